"""Rebuild an `ExecutionRun` from GetExecutionHistory events.

`previousEventId` links form a tree, not a chain. Each Map iteration and Parallel branch chains
back to its own start event, concurrent iterations interleave, and marker events such as
MapIterationSucceeded or MapStateFailed hang off the last event of an iteration. The parser reads
the events once in id order. It gives each event a scope (the top level, a Map iteration or a
Parallel branch) derived from the scope of the event it points at. The cost is linear in the number
of events times the nesting depth of Map and Parallel states.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sfn_forensics.history.model import ExecutionRun, Failure, MapVisit, StateVisit

log = logging.getLogger(__name__)

MAP = "Map"
PARALLEL = "Parallel"

EXECUTION_STATUS_BY_EVENT = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
EXECUTION_EVENT_TYPES = frozenset(
    {"ExecutionStarted", "ExecutionRedriven", *EXECUTION_STATUS_BY_EVENT}
)

# Events of a Map or Parallel state itself, as opposed to events of the states inside it.
MAP_EVENT_TYPES = frozenset(
    {
        "MapStateStarted",
        "MapStateSucceeded",
        "MapStateFailed",
        "MapStateAborted",
        "MapIterationStarted",
        "MapIterationSucceeded",
        "MapIterationFailed",
        "MapIterationAborted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapRunFailed",
        "MapRunAborted",
        "MapRunRedriven",
    }
)
PARALLEL_EVENT_TYPES = frozenset(
    {
        "ParallelStateStarted",
        "ParallelStateSucceeded",
        "ParallelStateFailed",
        "ParallelStateAborted",
    }
)
CONTAINER_STATUS_BY_EVENT = {
    "MapStateSucceeded": "SUCCEEDED",
    "MapStateFailed": "FAILED",
    "MapStateAborted": "ABORTED",
    "ParallelStateSucceeded": "SUCCEEDED",
    "ParallelStateFailed": "FAILED",
    "ParallelStateAborted": "ABORTED",
}

# Events that start one attempt of a state; a repeat within one visit is a retry.
ATTEMPT_START_TYPES = frozenset(
    {
        "TaskScheduled",
        "LambdaFunctionScheduled",
        "ActivityScheduled",
        "MapStateStarted",
        "ParallelStateStarted",
    }
)
# Events that carry the error and cause of a failed attempt inside a state.
FAILURE_EVENT_TYPES = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
        "EvaluationFailed",
        "MapRunFailed",
    }
)
# Events of a running state other than its *StateEntered/*StateExited events.
IN_STATE_EVENT_TYPES = frozenset(
    {
        "ActivityScheduled",
        "ActivityStarted",
        "ActivitySucceeded",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskStateAborted",
        "WaitStateAborted",
        *FAILURE_EVENT_TYPES,
    }
)

_STATE_ENTERED = "StateEntered"
_STATE_EXITED = "StateExited"


# Events


@dataclass(frozen=True, slots=True)
class _Event:
    id: int
    previous_id: int
    type: str
    timestamp: datetime | None
    details: dict[str, Any]


def parse_timestamp(value: Any) -> datetime | None:
    """Convert a boto3 `datetime`, an ISO 8601 string or epoch seconds to an aware datetime.

    Naive values are taken as UTC. Returns None for anything else.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _details_of(raw: dict[str, Any]) -> dict[str, Any]:
    """Return the event's `*EventDetails` object, or an empty dict when it has none."""
    for key, value in raw.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _normalise_events(events: Any) -> list[_Event]:
    if not isinstance(events, list):
        raise ValueError(
            f"history events must be a list of GetExecutionHistory events, "
            f"got {type(events).__name__}"
        )
    by_id: dict[int, _Event] = {}
    for position, raw in enumerate(events):
        event = _normalise_event(position, raw)
        if event.id in by_id:
            log.debug("history event id %d appears more than once; keeping the first", event.id)
            continue
        by_id[event.id] = event
    return [by_id[event_id] for event_id in sorted(by_id)]


def _normalise_event(position: int, raw: Any) -> _Event:
    if not isinstance(raw, dict):
        raise ValueError(
            f"history event at position {position} is a {type(raw).__name__}, not an object"
        )
    event_id = _as_int(raw.get("id"))
    event_type = raw.get("type")
    if event_id is None or not isinstance(event_type, str) or not event_type:
        raise ValueError(
            f"history event at position {position} has no integer 'id' or no 'type': "
            f"{str(raw)[:200]}"
        )
    return _Event(
        id=event_id,
        previous_id=_as_int(raw.get("previousEventId")) or 0,
        type=event_type,
        timestamp=parse_timestamp(raw.get("timestamp")),
        details=_details_of(raw),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _truncated(details: dict[str, Any], key: str) -> bool:
    section = details.get(key)
    return isinstance(section, dict) and section.get("truncated") is True


def _load_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


# Lambda request ids


def lambda_request_id_from_result(output: str | None) -> str | None:
    """Return the request id of a `lambda:invoke` result envelope, or None when it has none.

    AWS puts it in `SdkResponseMetadata.RequestId` and in the `x-amzn-RequestId` HTTP header.
    """
    if not output or "RequestId" not in output:
        return None
    document = _load_object(output)
    if document is None:
        return None
    metadata = document.get("SdkResponseMetadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("RequestId"), str):
        return str(metadata["RequestId"])
    http = document.get("SdkHttpMetadata")
    headers = http.get("HttpHeaders") if isinstance(http, dict) else None
    if isinstance(headers, dict):
        for name, value in headers.items():
            if name.lower() == "x-amzn-requestid" and isinstance(value, str):
                return value
    return None


def lambda_request_id_from_error(cause: str | None) -> str | None:
    """Return `requestId` from a Lambda error payload used as a failure cause, when present."""
    if not cause or "requestId" not in cause:
        return None
    document = _load_object(cause)
    if document is None:
        return None
    request_id = document.get("requestId")
    return request_id if isinstance(request_id, str) else None


# Scopes and containers


@dataclass(eq=False)
class _Container:
    """One visit to a Map or Parallel state, which opens iterations or branches."""

    kind: str
    name: str
    visit: StateVisit
    scope: _Scope | None
    map_visit: MapVisit | None
    open: bool = True
    branches_started: int = 0


@dataclass(eq=False)
class _Scope:
    """A Map iteration or a Parallel branch, keyed by the id of its first event."""

    event_id: int
    container: _Container
    index: int | None


def _scope_key(scope: _Scope | None) -> int | None:
    return scope.event_id if scope is not None else None


# The builder


@dataclass
class _RunBuilder:
    """State of one pass over the events, in id order; `add` takes each event in turn."""

    scope_of: dict[int, _Scope | None] = field(default_factory=dict)
    container_of: dict[int, _Container] = field(default_factory=dict)
    iteration_scope_of: dict[int, _Scope] = field(default_factory=dict)
    type_of: dict[int, str] = field(default_factory=dict)
    visit_of: dict[int, StateVisit] = field(default_factory=dict)
    last_visit_in_scope: dict[int | None, StateVisit] = field(default_factory=dict)
    last_visit_named: dict[str, StateVisit] = field(default_factory=dict)
    last_container: dict[tuple[str, str | None], _Container] = field(default_factory=dict)
    attempt_starts: dict[int, list[int]] = field(default_factory=dict)
    visits: list[StateVisit] = field(default_factory=list)
    maps: list[MapVisit] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    run: ExecutionRun = field(
        default_factory=lambda: ExecutionRun(
            status="RUNNING",
            started_at=None,
            stopped_at=None,
            input=None,
            output=None,
            event_count=0,
            visits=[],
            maps=[],
            failures=[],
        )
    )
    unknown_types: set[str] = field(default_factory=set)
    dangling_links: int = 0

    # Dispatch

    def add(self, event: _Event) -> None:
        self.type_of[event.id] = event.type
        if event.previous_id and event.previous_id not in self.type_of:
            self.dangling_links += 1
        event_type = event.type
        if event_type in EXECUTION_EVENT_TYPES:
            self._on_execution_event(event)
        elif event_type.endswith(_STATE_ENTERED):
            self._on_state_entered(event, event_type[: -len(_STATE_ENTERED)])
        elif event_type in ("MapStateExited", "ParallelStateExited"):
            self._on_container_exited(event)
        elif event_type.endswith(_STATE_EXITED):
            self._on_state_exited(event)
        elif event_type in MAP_EVENT_TYPES:
            self._on_container_event(event, MAP)
        elif event_type in PARALLEL_EVENT_TYPES:
            self._on_container_event(event, PARALLEL)
        elif event_type in IN_STATE_EVENT_TYPES:
            self._on_in_state_event(event)
        else:
            self._on_unknown_event(event)

    # Scope resolution

    def _scope_after(self, previous_id: int) -> _Scope | None:
        """Return the scope that an ordinary state event pointing at `previous_id` runs in.

        NOTE: an event that points at an event missing from the history (a history that starts
        mid-way) is placed at the top level, even when it ran inside a Map iteration.
        """
        iteration = self.iteration_scope_of.get(previous_id)
        if iteration is not None:
            return iteration
        container = self.container_of.get(previous_id)
        if container is not None:
            return container.scope
        return self.scope_of.get(previous_id)

    def _scope_for(self, event: _Event) -> _Scope | None:
        """Return the scope of a state event, opening a Parallel branch at its first event.

        NOTE: a branch is recognised by its first event pointing at ParallelStateStarted. moto 5.2.5
        links branches that way; no recorded AWS history with a Parallel state confirms it.
        """
        container = self.container_of.get(event.previous_id)
        if container is not None and self.type_of.get(event.previous_id) == "ParallelStateStarted":
            return self._open_branch(container, event.id)
        return self._scope_after(event.previous_id)

    def _open_branch(self, container: _Container, first_event_id: int) -> _Scope:
        scope = _Scope(
            event_id=first_event_id, container=container, index=container.branches_started
        )
        container.branches_started += 1
        return scope

    def _containers_above(self, previous_id: int) -> Iterator[_Container]:
        """Yield the containers around the event `previous_id`, innermost first."""
        container = self.container_of.get(previous_id)
        if container is None:
            scope = self.scope_of.get(previous_id)
            container = scope.container if scope is not None else None
        while container is not None:
            yield container
            container = container.scope.container if container.scope is not None else None

    def _find_container(self, event: _Event, kind: str, name: str | None) -> _Container | None:
        """Find the Map or Parallel visit an event of that state belongs to.

        Named events (MapIteration*, *StateExited) match by state name. The others belong to the
        innermost open container of the kind, because a closed one has already ended.
        """
        closed_match: _Container | None = None
        for container in self._containers_above(event.previous_id):
            if container.kind != kind:
                continue
            if name is not None:
                if container.name == name:
                    return container
                continue
            if container.open:
                return container
            closed_match = closed_match or container
        if closed_match is not None:
            return closed_match
        fallback = self.last_container.get((kind, name))
        if fallback is not None:
            log.debug(
                "event %d (%s) does not chain back to its %s state; using the latest visit %d",
                event.id,
                event.type,
                kind,
                fallback.visit.entered_event_id,
            )
        return fallback

    # Execution events

    def _on_execution_event(self, event: _Event) -> None:
        self.scope_of[event.id] = None
        run = self.run
        details = event.details
        if event.type == "ExecutionStarted":
            run.started_event_id = event.id
            run.started_at = event.timestamp
            run.input = _text(details.get("input"))
            run.input_truncated = _truncated(details, "inputDetails")
        elif event.type == "ExecutionRedriven":
            run.status = "RUNNING"
            run.stopped_at = None
            run.terminal_event_id = None
            run.error = run.cause = run.failed_state = None
        else:
            self._on_execution_ended(event)

    def _on_execution_ended(self, event: _Event) -> None:
        run = self.run
        details = event.details
        run.status = EXECUTION_STATUS_BY_EVENT[event.type]
        run.terminal_event_id = event.id
        run.stopped_at = event.timestamp
        if event.type == "ExecutionSucceeded":
            run.output = _text(details.get("output"))
            run.output_truncated = _truncated(details, "outputDetails")
            return
        run.error = _text(details.get("error"))
        run.cause = _text(details.get("cause"))
        last_visit = self.visit_of.get(event.previous_id)
        run.failed_state = last_visit.name if last_visit is not None else None

    # State visits

    def _on_state_entered(self, event: _Event, state_type: str) -> None:
        scope = self._scope_for(event)
        details = event.details
        name = _text(details.get("name")) or f"<unnamed state at event {event.id}>"
        visit = StateVisit(
            name=name,
            state_type=state_type,
            entered_event_id=event.id,
            exited_event_id=None,
            entered_at=event.timestamp,
            exited_at=None,
            input=_text(details.get("input")),
            output=None,
            input_truncated=_truncated(details, "inputDetails"),
            event_ids=[event.id],
        )
        if scope is not None:
            visit.iteration_event_id = scope.event_id
            visit.parent_map = scope.container.name
            visit.parent_state_type = scope.container.kind
            visit.iteration_index = scope.index
        self._place_visit(event.id, scope, visit)
        if state_type in (MAP, PARALLEL):
            self._open_container(event.id, state_type, scope, visit)

    def _place_visit(self, event_id: int, scope: _Scope | None, visit: StateVisit) -> None:
        key = _scope_key(scope)
        previous = self.last_visit_in_scope.get(key)
        if previous is not None:
            previous.next_state = visit.name
        self.last_visit_in_scope[key] = visit
        self.last_visit_named[visit.name] = visit
        self.scope_of[event_id] = scope
        self.visit_of[event_id] = visit
        self.visits.append(visit)

    def _open_container(
        self, event_id: int, kind: str, scope: _Scope | None, visit: StateVisit
    ) -> None:
        map_visit: MapVisit | None = None
        if kind == MAP:
            map_visit = MapVisit(
                name=visit.name,
                entered_event_id=event_id,
                length=None,
                attempts=0,
                iterations_started=0,
                iterations_succeeded=0,
                iterations_failed=0,
                iterations_aborted=0,
                parent_map=visit.parent_map,
                iteration_event_id=visit.iteration_event_id,
            )
            self.maps.append(map_visit)
        container = _Container(
            kind=kind, name=visit.name, visit=visit, scope=scope, map_visit=map_visit
        )
        self.container_of[event_id] = container
        self.last_container[(kind, visit.name)] = container
        self.last_container[(kind, None)] = container

    def _on_state_exited(self, event: _Event) -> None:
        scope = self._scope_for(event)
        self.scope_of[event.id] = scope
        name = _text(event.details.get("name"))
        visit = self.last_visit_in_scope.get(_scope_key(scope))
        if name is not None and (visit is None or visit.name != name):
            log.debug("exit event %d of state %r matched by name only", event.id, name)
            visit = self.last_visit_named.get(name)
        if visit is None or visit.exited_event_id is not None:
            log.debug("exit event %d of state %r has no open visit; ignored", event.id, name)
            return
        self._close_visit(visit, event)

    def _close_visit(self, visit: StateVisit, event: _Event) -> None:
        visit.exited_event_id = event.id
        visit.exited_at = event.timestamp
        visit.output = _text(event.details.get("output"))
        visit.output_truncated = _truncated(event.details, "outputDetails")
        visit.event_ids.append(event.id)
        self.visit_of[event.id] = visit

    # Map and Parallel states

    def _on_container_exited(self, event: _Event) -> None:
        kind = MAP if event.type == "MapStateExited" else PARALLEL
        container = self._find_container(event, kind, _text(event.details.get("name")))
        if container is None:
            self._on_state_exited(event)
            return
        container.open = False
        self.container_of[event.id] = container
        self.scope_of[event.id] = container.scope
        if container.visit.exited_event_id is None:
            self._close_visit(container.visit, event)

    def _on_container_event(self, event: _Event, kind: str) -> None:
        named = event.type.startswith("MapIteration")
        name = _text(event.details.get("name")) if named else None
        container = self._find_container(event, kind, name)
        if container is None:
            log.debug("event %d (%s) has no %s state visit; ignored", event.id, event.type, kind)
            self.scope_of[event.id] = self._scope_after(event.previous_id)
            return
        self.container_of[event.id] = container
        self.scope_of[event.id] = container.scope
        visit = container.visit
        visit.event_ids.append(event.id)
        self.visit_of[event.id] = visit
        self._note_attempt_and_failure(event, visit)
        self._apply_container_event(event, container)

    def _apply_container_event(self, event: _Event, container: _Container) -> None:
        event_type = event.type
        if event_type in CONTAINER_STATUS_BY_EVENT:
            container.open = False
            if event_type.endswith("Aborted"):
                container.visit.aborted = True
        elif event_type in ("MapStateStarted", "ParallelStateStarted"):
            container.open = True
        map_visit = container.map_visit
        if map_visit is not None:
            _count_map_event(map_visit, event)
        if event_type == "MapIterationStarted":
            index = _as_int(event.details.get("index"))
            self.iteration_scope_of[event.id] = _Scope(event.id, container, index)

    # Events inside a state

    def _on_in_state_event(self, event: _Event) -> None:
        scope = self._scope_for(event)
        self.scope_of[event.id] = scope
        visit = self.last_visit_in_scope.get(_scope_key(scope))
        if visit is None:
            log.debug("event %d (%s) has no state visit to belong to", event.id, event.type)
            if event.type in FAILURE_EVENT_TYPES:
                self._record_failure(event, None)
            return
        visit.event_ids.append(event.id)
        self.visit_of[event.id] = visit
        self._note_attempt_and_failure(event, visit)
        _apply_task_event(visit, event)

    def _note_attempt_and_failure(self, event: _Event, visit: StateVisit) -> None:
        if event.type in ATTEMPT_START_TYPES:
            self.attempt_starts.setdefault(visit.entered_event_id, []).append(event.id)
        if event.type in FAILURE_EVENT_TYPES:
            self._record_failure(event, visit)

    def _record_failure(self, event: _Event, visit: StateVisit | None) -> None:
        details = event.details
        state = visit.name if visit is not None else _text(details.get("state"))
        failure = Failure(
            event_id=event.id,
            event_type=event.type,
            error=_text(details.get("error")),
            cause=_text(details.get("cause")),
            state=state,
        )
        if visit is not None:
            visit.failures.append(failure)
        self.failures.append(failure)

    def _on_unknown_event(self, event: _Event) -> None:
        self.scope_of[event.id] = self._scope_after(event.previous_id)
        if event.type not in self.unknown_types:
            self.unknown_types.add(event.type)
            log.debug(
                "ignoring history events of unknown type %s (first at id %d)", event.type, event.id
            )

    # Result

    def finish(self, event_count: int) -> ExecutionRun:
        for visit in self.visits:
            self._settle_retries(visit)
        if self.dangling_links:
            log.debug(
                "%d events point at events missing from the history; "
                "they were placed at the top level",
                self.dangling_links,
            )
        run = self.run
        run.event_count = event_count
        run.visits = self.visits
        run.maps = self.maps
        run.failures = self.failures
        return run

    def _settle_retries(self, visit: StateVisit) -> None:
        starts = self.attempt_starts.get(visit.entered_event_id, [])
        visit.retries = max(0, len(starts) - 1)
        if not starts:
            return
        last_start = starts[-1]
        for failure in visit.failures:
            failure.retried = failure.event_id < last_start


def _count_map_event(map_visit: MapVisit, event: _Event) -> None:
    event_type = event.type
    details = event.details
    if event_type == "MapStateStarted":
        map_visit.attempts += 1
        map_visit.length = _as_int(details.get("length"))
        map_visit.status = None
    elif event_type == "MapIterationStarted":
        map_visit.iterations_started += 1
        map_visit.iteration_event_ids.append(event.id)
    elif event_type == "MapIterationSucceeded":
        map_visit.iterations_succeeded += 1
    elif event_type == "MapIterationFailed":
        map_visit.iterations_failed += 1
    elif event_type == "MapIterationAborted":
        map_visit.iterations_aborted += 1
    elif event_type in ("MapRunStarted", "MapRunRedriven"):
        map_visit.map_run_arn = _text(details.get("mapRunArn")) or map_visit.map_run_arn
    elif event_type in CONTAINER_STATUS_BY_EVENT:
        map_visit.status = CONTAINER_STATUS_BY_EVENT[event_type]


def _apply_task_event(visit: StateVisit, event: _Event) -> None:
    details = event.details
    event_type = event.type
    if event_type == "TaskScheduled":
        visit.task_resource = _text(details.get("resource"))
        visit.task_resource_type = _text(details.get("resourceType"))
        visit.task_parameters = _text(details.get("parameters"))
    elif event_type in ("LambdaFunctionScheduled", "ActivityScheduled"):
        visit.task_resource = _text(details.get("resource"))
        visit.task_parameters = _text(details.get("input"))
    elif event_type.endswith("Aborted"):
        visit.aborted = True
    request_id = _lambda_request_id(event)
    if request_id is not None:
        visit.lambda_request_ids.append(request_id)


def _lambda_request_id(event: _Event) -> str | None:
    details = event.details
    if event.type == "LambdaFunctionFailed":
        return lambda_request_id_from_error(_text(details.get("cause")))
    if details.get("resourceType") != "lambda":
        return None
    if event.type == "TaskSucceeded" and not _truncated(details, "outputDetails"):
        return lambda_request_id_from_result(_text(details.get("output")))
    if event.type == "TaskFailed":
        return lambda_request_id_from_error(_text(details.get("cause")))
    return None


# DescribeExecution


def _merge_describe_execution(run: ExecutionRun, describe: dict[str, Any]) -> None:
    """Fill what the events lack from a DescribeExecution response; the events win otherwise."""
    status = _text(describe.get("status"))
    if run.terminal_event_id is None and status and status != run.status:
        log.debug("history has no terminal event; taking status %s from DescribeExecution", status)
        run.status = status
    if run.started_at is None:
        run.started_at = parse_timestamp(describe.get("startDate"))
    if run.stopped_at is None and run.status != "RUNNING":
        run.stopped_at = parse_timestamp(describe.get("stopDate"))
    if run.input is None:
        run.input = _text(describe.get("input"))
    if run.output is None:
        run.output = _text(describe.get("output"))
    if run.error is None:
        run.error = _text(describe.get("error"))
    if run.cause is None:
        run.cause = _text(describe.get("cause"))


# Entry point


def parse_history(
    events: list[dict[str, Any]], describe_execution: dict[str, Any] | None = None
) -> ExecutionRun:
    """Rebuild the execution from its GetExecutionHistory events, oldest or newest first.

    `describe_execution`, when given, fills the status, dates, input, output, error and cause that
    the events lack (a history without its last page, for example). Raises ValueError only when
    `events` is not a list or an event has no integer `id` or no `type`.
    """
    # The parse allocates many small objects and frees none of them; pausing the cyclic
    # collector roughly halved the time of a 100,000-event parse (bench/bench_history_parse.py).
    collecting = gc.isenabled()
    gc.disable()
    try:
        normalised = _normalise_events(events)
        builder = _RunBuilder()
        for raw in events:
            builder.run.events_by_id.setdefault(int(raw["id"]), raw)
        for event in normalised:
            builder.add(event)
        run = builder.finish(len(normalised))
    finally:
        if collecting:
            gc.enable()
    if isinstance(describe_execution, dict):
        _merge_describe_execution(run, describe_execution)
    return run
