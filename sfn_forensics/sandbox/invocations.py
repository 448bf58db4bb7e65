"""Read the Lambda invocations of a staged execution from its history.

Each invocation is a scheduled event (`LambdaFunctionScheduled` for a function ARN resource,
`TaskScheduled` with resourceType `lambda` for `lambda:invoke`) and the event that ended it
(`...Succeeded`, `...Failed` or `...TimedOut`). Map iterations and retried attempts are separate
invocations. The evidence that staging writes after a run (log lines, poll_results.json) is
derived from these records, so it matches what each invocation really received and returned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sfn_forensics.errors import SandboxError

_SCHEDULED_TYPES = frozenset({"LambdaFunctionScheduled", "TaskScheduled"})
_SUCCEEDED_TYPES = frozenset({"LambdaFunctionSucceeded", "TaskSucceeded"})
_FAILED_TYPES = frozenset(
    {
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
    }
)
_DETAIL_KEYS = {
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
}


@dataclass(frozen=True)
class LambdaInvocation:
    """One Lambda invocation of an execution, as its history events record it."""

    function_name: str
    scheduled_event_id: int
    scheduled_at: datetime
    # Time of the event that ended the invocation (succeeded, failed or timed out).
    ended_at: datetime
    succeeded: bool
    # The payload sent to the function, parsed.
    input: Any
    # The function's return value, parsed; None when the invocation failed.
    output: Any
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class ExecutionRecord:
    """A stopped execution: its name, times and Lambda invocations in schedule order."""

    execution_name: str
    started_at: datetime
    stopped_at: datetime
    invocations: tuple[LambdaInvocation, ...]

    def of_function(self, function_name: str) -> list[LambdaInvocation]:
        return [item for item in self.invocations if item.function_name == function_name]

    def last_output(self, function_name: str) -> Any:
        """Return the output of the function's last successful invocation, or None."""
        outputs = [item.output for item in self.of_function(function_name) if item.succeeded]
        return outputs[-1] if outputs else None


def read_execution_record(
    execution_name: str, events: Sequence[Mapping[str, Any]]
) -> ExecutionRecord:
    """Return the execution's record from its history events (as GetExecutionHistory returns).

    Raises SandboxError when the history has no events or an invocation has no end event.
    """
    if not events:
        raise SandboxError(f"the history of execution {execution_name} has no events")
    by_id = {int(event["id"]): event for event in events}
    ends: dict[int, Mapping[str, Any]] = {}
    for event in events:
        if event["type"] in _SUCCEEDED_TYPES or event["type"] in _FAILED_TYPES:
            scheduled_id = _scheduled_ancestor(event, by_id)
            if scheduled_id is not None:
                ends[scheduled_id] = event

    invocations: list[LambdaInvocation] = []
    for event in events:
        if not _is_lambda_scheduled(event):
            continue
        end = ends.get(int(event["id"]))
        if end is None:
            raise SandboxError(
                f"execution {execution_name}: Lambda invocation scheduled in event {event['id']} "
                "has no end event",
                hint="Stage only executions that have stopped.",
            )
        invocations.append(_invocation(event, end))

    times = [_utc(event["timestamp"]) for event in events]
    return ExecutionRecord(
        execution_name=execution_name,
        started_at=min(times),
        stopped_at=max(times),
        invocations=tuple(invocations),
    )


def _is_lambda_scheduled(event: Mapping[str, Any]) -> bool:
    if event["type"] == "LambdaFunctionScheduled":
        return True
    if event["type"] == "TaskScheduled":
        details = event.get("taskScheduledEventDetails", {})
        return bool(details.get("resourceType") == "lambda")
    return False


def _scheduled_ancestor(
    event: Mapping[str, Any], by_id: Mapping[int, Mapping[str, Any]]
) -> int | None:
    """Follow previousEventId from an end event back to its scheduled event."""
    parent = by_id.get(int(event.get("previousEventId") or 0))
    # An end event follows its Started event, which follows the Scheduled event.
    for _ in range(3):
        if parent is None:
            return None
        if parent["type"] in _SCHEDULED_TYPES:
            return int(parent["id"]) if _is_lambda_scheduled(parent) else None
        parent = by_id.get(int(parent.get("previousEventId") or 0))
    return None


def _invocation(scheduled: Mapping[str, Any], end: Mapping[str, Any]) -> LambdaInvocation:
    if scheduled["type"] == "LambdaFunctionScheduled":
        details = scheduled["lambdaFunctionScheduledEventDetails"]
        function = _function_name(str(details["resource"]))
        payload = _parse_json(details.get("input"))
    else:
        parameters = _parse_json(scheduled["taskScheduledEventDetails"].get("parameters")) or {}
        function = _function_name(str(parameters.get("FunctionName", "")))
        payload = _parse_json(parameters.get("Payload"))

    end_details = end.get(_DETAIL_KEYS[end["type"]], {})
    succeeded = end["type"] in _SUCCEEDED_TYPES
    output: Any = None
    if succeeded:
        output = _parse_json(end_details.get("output"))
        if end["type"] == "TaskSucceeded" and isinstance(output, dict):
            # lambda:invoke wraps the return value: {"StatusCode": 200, "Payload": ...}.
            output = _parse_json(output.get("Payload"))
    return LambdaInvocation(
        function_name=function,
        scheduled_event_id=int(scheduled["id"]),
        scheduled_at=_utc(scheduled["timestamp"]),
        ended_at=_utc(end["timestamp"]),
        succeeded=succeeded,
        input=payload,
        output=output,
        error=end_details.get("error"),
        cause=end_details.get("cause"),
    )


def _function_name(reference: str) -> str:
    """Return the function name of an ARN (qualifier dropped) or of a plain name."""
    if ":function:" in reference:
        reference = reference.split(":function:", 1)[1]
    return reference.split(":", 1)[0]


def _parse_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _utc(moment: Any) -> datetime:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(moment, tz=UTC)
    raise SandboxError(f"unexpected event timestamp {moment!r}")
