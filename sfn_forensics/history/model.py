"""The execution rebuilt from its history events.

`StateVisit` is one entry into a state, and `MapVisit` adds the iteration counts of a Map state.
`ExecutionRun` contains them all plus the top-level path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Failure:
    """An error raised inside a state, attributed by following `previousEventId`."""

    event_id: int
    event_type: str
    error: str | None
    cause: str | None
    state: str | None
    # True when a Retry on the state handled it and the state ran again.
    retried: bool = False


@dataclass
class StateVisit:
    """One entry into a state, from its `*StateEntered` event to its `*StateExited` event."""

    name: str
    # The state type as the event names it: Task, Pass, Map, Choice, Wait, Succeed, Fail, Parallel.
    state_type: str
    entered_event_id: int
    exited_event_id: int | None
    entered_at: datetime | None
    exited_at: datetime | None
    input: str | None
    output: str | None
    input_truncated: bool = False
    output_truncated: bool = False
    # Event id of the MapIterationStarted this visit belongs to, or None at the top level.
    iteration_event_id: int | None = None
    # Name of the Map state whose iteration contains this visit, or None at the top level.
    parent_map: str | None = None
    # Position of the iteration within its Map run, or None at the top level.
    iteration_index: int | None = None
    # Number of attempts after the first: repeats of TaskScheduled, LambdaFunctionScheduled or
    # ActivityScheduled, or of MapStateStarted/ParallelStateStarted for a Map or Parallel state.
    retries: int = 0
    failures: list[Failure] = field(default_factory=list)
    # Lambda request ids found in task results (AWS's lambda:invoke envelope), in attempt order.
    lambda_request_ids: list[str] = field(default_factory=list)
    # The resource of the last TaskScheduled/LambdaFunctionScheduled/ActivityScheduled event.
    task_resource: str | None = None
    task_parameters: str | None = None
    # The state entered right after this one within the same scope (the Choice branch taken).
    next_state: str | None = None
    # Ids of every event that belongs to this visit, entered to exited.
    event_ids: list[int] = field(default_factory=list)
    # `resourceType` of the last TaskScheduled event (e.g. "lambda" for `lambda:invoke`).
    task_resource_type: str | None = None
    # Type of the state whose iteration or branch contains this visit: "Map" or "Parallel".
    # For a Parallel branch, `parent_map` is the Parallel state's name, `iteration_event_id` is the
    # id of the branch's first event and `iteration_index` is the order in which the branch started.
    parent_state_type: str | None = None
    # True when a *StateAborted event ended the visit.
    aborted: bool = False

    @property
    def duration_seconds(self) -> float | None:
        if self.entered_at is None or self.exited_at is None:
            return None
        return (self.exited_at - self.entered_at).total_seconds()

    @property
    def succeeded(self) -> bool:
        return self.exited_event_id is not None

    def output_json(self) -> Any:
        """Parse the output; None when absent, truncated or not JSON."""
        return _parse_json(self.output)

    def input_json(self) -> Any:
        return _parse_json(self.input)


@dataclass
class MapVisit:
    """Counts for one visit to a Map state, summed over its attempts."""

    name: str
    entered_event_id: int
    # Item count from the last MapStateStarted (0 for distributed maps that read items with an
    # ItemReader, as AWS reports it).
    length: int | None
    # Number of MapStateStarted events: more than one when a Retry re-ran the Map.
    attempts: int
    iterations_started: int
    iterations_succeeded: int
    iterations_failed: int
    iterations_aborted: int
    # Map run ARN for distributed maps.
    map_run_arn: str | None = None
    # Outcome of the Map state itself: SUCCEEDED, FAILED, ABORTED or None while it was running.
    status: str | None = None
    iteration_event_ids: list[int] = field(default_factory=list)
    parent_map: str | None = None
    iteration_event_id: int | None = None


@dataclass
class ExecutionRun:
    """An execution rebuilt from its events."""

    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    started_at: datetime | None
    stopped_at: datetime | None
    input: str | None
    output: str | None
    event_count: int
    # Every state visit at every depth, in order of entry.
    visits: list[StateVisit]
    # Every Map visit at every depth, in order of entry.
    maps: list[MapVisit]
    failures: list[Failure]
    # The error and cause that ended the execution, when it failed.
    error: str | None = None
    cause: str | None = None
    events_by_id: dict[int, dict[str, Any]] = field(default_factory=dict)
    input_truncated: bool = False
    output_truncated: bool = False
    # Id of the ExecutionStarted event, when the history contains it.
    started_event_id: int | None = None
    # Id of the event that set `status` (ExecutionSucceeded/Failed/TimedOut/Aborted), when any.
    terminal_event_id: int | None = None
    # The state whose event the ExecutionFailed/TimedOut/Aborted event points at.
    failed_state: str | None = None

    @property
    def top_level_visits(self) -> list[StateVisit]:
        return [visit for visit in self.visits if visit.iteration_event_id is None]

    @property
    def path(self) -> list[str]:
        """The top-level states in the order they were entered."""
        return [visit.name for visit in self.top_level_visits]

    def visits_of(self, name: str) -> list[StateVisit]:
        return [visit for visit in self.visits if visit.name == name]

    def maps_of(self, name: str) -> list[MapVisit]:
        return [visit for visit in self.maps if visit.name == name]

    def output_json(self) -> Any:
        return _parse_json(self.output)


def _parse_json(text: str | None) -> Any:
    if text is None:
        return None
    import json

    try:
        return json.loads(text)
    except ValueError:
        return None
