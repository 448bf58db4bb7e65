"""`parse_history` on histories built in code, plus one run on the local moto server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest

from sfn_forensics.history.model import ExecutionRun, MapVisit, StateVisit
from sfn_forensics.history.parser import (
    lambda_request_id_from_result,
    parse_history,
    parse_timestamp,
)
from sfn_forensics.sandbox.server import MotoServer

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

VisitT = TypeVar("VisitT", StateVisit, MapVisit)


def _details_key(event_type: str) -> str:
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


class History:
    """GetExecutionHistory events built by hand, with ids assigned in order."""

    def __init__(self, execution_input: str | None = "{}") -> None:
        self.events: list[dict[str, Any]] = []
        if execution_input is not None:
            self.add(
                "ExecutionStarted", 0, input=execution_input, inputDetails={"truncated": False}
            )

    def add(self, event_type: str, previous: int, **details: Any) -> int:
        event_id = len(self.events) + 1
        event: dict[str, Any] = {
            "id": event_id,
            "previousEventId": previous,
            "type": event_type,
            "timestamp": T0 + timedelta(milliseconds=10 * event_id),
        }
        if details:
            event[_details_key(event_type)] = details
        self.events.append(event)
        return event_id

    def enter(self, state_type: str, name: str, previous: int, value: str = "{}") -> int:
        return self.add(
            f"{state_type}StateEntered",
            previous,
            name=name,
            input=value,
            inputDetails={"truncated": False},
        )

    def exit(self, state_type: str, name: str, previous: int, value: str = "{}") -> int:
        return self.add(
            f"{state_type}StateExited",
            previous,
            name=name,
            output=value,
            outputDetails={"truncated": False},
        )

    def pass_state(self, name: str, previous: int, value: str = "{}") -> int:
        return self.exit("Pass", name, self.enter("Pass", name, previous, value), value)

    def task_state(self, name: str, previous: int, output: str = "{}") -> int:
        entered = self.enter("Task", name, previous)
        scheduled = self.add(
            "TaskScheduled",
            entered,
            resource="invoke",
            resourceType="lambda",
            region="us-east-1",
            parameters="{}",
        )
        started = self.add("TaskStarted", scheduled, resource="invoke", resourceType="lambda")
        succeeded = self.add(
            "TaskSucceeded",
            started,
            resource="invoke",
            resourceType="lambda",
            output=output,
            outputDetails={"truncated": False},
        )
        return self.exit("Task", name, succeeded, output)

    def succeed(self, previous: int, output: str = "{}") -> int:
        return self.add(
            "ExecutionSucceeded", previous, output=output, outputDetails={"truncated": False}
        )

    def parse(self) -> ExecutionRun:
        return parse_history(self.events)


def _only(visits: list[VisitT]) -> VisitT:
    assert len(visits) == 1, [visit.entered_event_id for visit in visits]
    return visits[0]


def _sequential_map(
    history: History, name: str, previous: int, items: int, body: str = "Item"
) -> int:
    """Add an inline Map of one Pass state per iteration, linked the way AWS links them."""
    entered = history.enter("Map", name, previous)
    last = history.add("MapStateStarted", entered, length=items)
    for index in range(items):
        started = history.add("MapIterationStarted", last, index=index, name=name)
        last = history.pass_state(body, started)
        history.add("MapIterationSucceeded", last, index=index, name=name)
    history.add("MapStateSucceeded", last)
    return history.exit("Map", name, last, "[]")


# Concurrent Map iterations


def _interleaved_history() -> tuple[History, dict[str, int]]:
    history = History()
    ids: dict[str, int] = {}
    entered = history.enter("Map", "Fan", 0)
    started = history.add("MapStateStarted", entered, length=2)
    ids["it0"] = history.add("MapIterationStarted", started, index=0, name="Fan")
    ids["it1"] = history.add("MapIterationStarted", started, index=1, name="Fan")
    ids["work0"] = history.enter("Task", "Work", ids["it0"], '{"item":0}')
    ids["work1"] = history.enter("Task", "Work", ids["it1"], '{"item":1}')
    scheduled1 = history.add("TaskScheduled", ids["work1"], resource="invoke", parameters="1")
    scheduled0 = history.add("TaskScheduled", ids["work0"], resource="invoke", parameters="0")
    ids["failed0"] = history.add("TaskFailed", scheduled0, error="Boom", cause="item 0")
    exited1 = history.exit("Task", "Work", scheduled1, '{"done":1}')
    exited0 = history.exit("Task", "Work", ids["failed0"], '{"caught":0}')
    ids["after1"] = history.pass_state("After", exited1)
    history.add("MapIterationSucceeded", ids["after1"], index=1, name="Fan")
    ids["after0"] = history.pass_state("After", exited0)
    history.add("MapIterationSucceeded", ids["after0"], index=0, name="Fan")
    history.add("MapStateSucceeded", ids["after0"])
    map_exited = history.exit("Map", "Fan", ids["after0"], "[]")
    history.succeed(history.pass_state("Done", map_exited))
    return history, ids


def test_parse_interleaved_iteration_of_work() -> None:
    history, ids = _interleaved_history()
    run = history.parse()
    by_entry = {visit.entered_event_id: visit for visit in run.visits_of("Work")}
    assert by_entry[ids["work0"]].iteration_event_id == ids["it0"]
    assert by_entry[ids["work1"]].iteration_event_id == ids["it1"]
    assert by_entry[ids["work0"]].iteration_index == 0
    assert by_entry[ids["work1"]].iteration_index == 1


def test_parse_interleaved_task_parameters_per_iteration() -> None:
    history, ids = _interleaved_history()
    run = history.parse()
    by_entry = {visit.entered_event_id: visit for visit in run.visits_of("Work")}
    assert by_entry[ids["work0"]].task_parameters == "0"
    assert by_entry[ids["work1"]].task_parameters == "1"


def test_parse_interleaved_failure_in_its_iteration() -> None:
    history, ids = _interleaved_history()
    run = history.parse()
    by_entry = {visit.entered_event_id: visit for visit in run.visits_of("Work")}
    assert [failure.event_id for failure in by_entry[ids["work0"]].failures] == [ids["failed0"]]
    assert by_entry[ids["work1"]].failures == []
    assert run.failures[0].state == "Work"


def test_parse_interleaved_next_state_per_iteration() -> None:
    history, _ = _interleaved_history()
    run = history.parse()
    for visit in run.visits_of("Work"):
        assert visit.next_state == "After"
    for visit in run.visits_of("After"):
        assert visit.next_state is None


def test_parse_interleaved_exit_outputs() -> None:
    history, ids = _interleaved_history()
    run = history.parse()
    by_entry = {visit.entered_event_id: visit for visit in run.visits_of("Work")}
    assert by_entry[ids["work0"]].output == '{"caught":0}'
    assert by_entry[ids["work1"]].output == '{"done":1}'


def test_parse_interleaved_map_counts() -> None:
    history, _ = _interleaved_history()
    run = history.parse()
    fan = _only(run.maps_of("Fan"))
    assert fan.iterations_started == 2
    assert fan.iterations_succeeded == 2
    assert fan.status == "SUCCEEDED"


def test_parse_interleaved_top_level_path() -> None:
    history, _ = _interleaved_history()
    run = history.parse()
    assert run.path == ["Fan", "Done"]
    assert _only(run.visits_of("Fan")).next_state == "Done"


# Nested Maps


def _nested_history() -> tuple[History, dict[str, int]]:
    history = History()
    ids: dict[str, int] = {}
    outer = history.enter("Map", "Outer", 0)
    last = history.add("MapStateStarted", outer, length=2)
    for index in range(2):
        started = history.add("MapIterationStarted", last, index=index, name="Outer")
        ids[f"outer{index}"] = started
        inner_exited = _sequential_map(history, "Inner", started, items=2, body="Leaf")
        ids[f"inner_exit{index}"] = inner_exited
        last = history.pass_state("AfterInner", inner_exited)
        history.add("MapIterationSucceeded", last, index=index, name="Outer")
    history.add("MapStateSucceeded", last)
    history.succeed(history.exit("Map", "Outer", last, "[]"))
    return history, ids


def test_parse_nested_leaf_in_inner_iteration() -> None:
    history, _ = _nested_history()
    run = history.parse()
    leaves = run.visits_of("Leaf")
    assert len(leaves) == 4
    for leaf in leaves:
        assert leaf.parent_map == "Inner"
        assert leaf.parent_state_type == "Map"
    assert [leaf.iteration_index for leaf in leaves] == [0, 1, 0, 1]


def test_parse_nested_inner_map_in_outer_iteration() -> None:
    history, ids = _nested_history()
    run = history.parse()
    inner_maps = run.maps_of("Inner")
    assert [inner.iteration_event_id for inner in inner_maps] == [ids["outer0"], ids["outer1"]]
    for inner in inner_maps:
        assert inner.parent_map == "Outer"
        assert inner.iterations_started == 2
        assert inner.iterations_succeeded == 2
        assert inner.status == "SUCCEEDED"


def test_parse_nested_inner_visit_exits() -> None:
    history, ids = _nested_history()
    run = history.parse()
    exits = [visit.exited_event_id for visit in run.visits_of("Inner")]
    assert exits == [ids["inner_exit0"], ids["inner_exit1"]]
    for visit in run.visits_of("Inner"):
        assert visit.next_state == "AfterInner"


def test_parse_nested_outer_counts() -> None:
    history, ids = _nested_history()
    run = history.parse()
    outer = _only(run.maps_of("Outer"))
    assert outer.iterations_started == 2
    assert outer.iterations_succeeded == 2
    assert outer.iteration_event_ids == [ids["outer0"], ids["outer1"]]
    assert outer.parent_map is None


def test_parse_nested_top_level_path() -> None:
    history, _ = _nested_history()
    run = history.parse()
    assert run.path == ["Outer"]
    assert run.status == "SUCCEEDED"


# Parallel


def _parallel_history() -> tuple[History, dict[str, int]]:
    history = History()
    ids: dict[str, int] = {}
    entered = history.enter("Parallel", "Both", 0)
    started = history.add("ParallelStateStarted", entered)
    ids["a1"] = history.enter("Pass", "A1", started)
    ids["b1"] = history.enter("Task", "B1", started)
    a1_exit = history.exit("Pass", "A1", ids["a1"])
    first_try = history.add("TaskScheduled", ids["b1"], resource="invoke", resourceType="lambda")
    a2 = history.enter("Pass", "A2", a1_exit)
    failed = history.add("TaskFailed", first_try, error="Boom", resourceType="lambda")
    second_try = history.add("TaskScheduled", failed, resource="invoke", resourceType="lambda")
    history.exit("Pass", "A2", a2)
    b1_exit = history.exit("Task", "B1", second_try)
    history.add("ParallelStateSucceeded", b1_exit)
    ids["exit"] = history.exit("Parallel", "Both", b1_exit, "[{},{}]")
    history.succeed(history.pass_state("After", ids["exit"]))
    return history, ids


def test_parse_parallel_branches_scoped() -> None:
    history, ids = _parallel_history()
    run = history.parse()
    a1, a2, b1 = (_only(run.visits_of(name)) for name in ("A1", "A2", "B1"))
    assert a1.iteration_event_id == ids["a1"]
    assert a2.iteration_event_id == ids["a1"]
    assert b1.iteration_event_id == ids["b1"]
    assert [a1.iteration_index, b1.iteration_index] == [0, 1]
    for visit in (a1, a2, b1):
        assert visit.parent_map == "Both"
        assert visit.parent_state_type == "Parallel"


def test_parse_parallel_next_state_within_branch() -> None:
    history, _ = _parallel_history()
    run = history.parse()
    assert _only(run.visits_of("A1")).next_state == "A2"
    assert _only(run.visits_of("B1")).next_state is None
    assert _only(run.visits_of("Both")).next_state == "After"


def test_parse_parallel_top_level_path() -> None:
    history, ids = _parallel_history()
    run = history.parse()
    assert run.path == ["Both", "After"]
    assert _only(run.visits_of("Both")).exited_event_id == ids["exit"]
    assert run.maps == []


def test_parse_parallel_branch_task_retry() -> None:
    history, _ = _parallel_history()
    run = history.parse()
    b1 = _only(run.visits_of("B1"))
    assert b1.retries == 1
    assert [failure.retried for failure in b1.failures] == [True]


# Retried Map


def _map_retry_history() -> tuple[History, dict[str, int]]:
    history = History()
    ids: dict[str, int] = {}
    entered = history.enter("Map", "Batch", 0)
    first = history.add("MapStateStarted", entered, length=1)
    iteration = history.add("MapIterationStarted", first, index=0, name="Batch")
    task = history.enter("Task", "Call", iteration)
    scheduled = history.add("TaskScheduled", task, resource="invoke", resourceType="lambda")
    ids["failed"] = history.add("TaskFailed", scheduled, error="Boom", resourceType="lambda")
    history.add("MapIterationFailed", ids["failed"], index=0, name="Batch")
    second = history.add("MapStateStarted", ids["failed"], length=1)
    iteration = history.add("MapIterationStarted", second, index=0, name="Batch")
    last = history.task_state("Call", iteration)
    history.add("MapIterationSucceeded", last, index=0, name="Batch")
    history.add("MapStateSucceeded", last)
    history.succeed(history.exit("Map", "Batch", last, "[{}]"))
    return history, ids


def test_parse_map_retry_attempts() -> None:
    history, _ = _map_retry_history()
    run = history.parse()
    batch = _only(run.maps_of("Batch"))
    assert batch.attempts == 2
    assert batch.iterations_started == 2
    assert batch.iterations_failed == 1
    assert batch.iterations_succeeded == 1
    assert batch.status == "SUCCEEDED"


def test_parse_map_retry_visit_retries() -> None:
    history, _ = _map_retry_history()
    run = history.parse()
    assert _only(run.visits_of("Batch")).retries == 1
    assert run.path == ["Batch"]


def test_parse_map_retry_failure_stays_in_iteration() -> None:
    history, ids = _map_retry_history()
    run = history.parse()
    failure = _only_failure(run)
    assert failure.event_id == ids["failed"]
    assert failure.state == "Call"
    # The Map ran again, but the failed Task visit itself was not rescheduled.
    assert failure.retried is False


def _only_failure(run: ExecutionRun) -> Any:
    assert len(run.failures) == 1
    return run.failures[0]


# Choice


def test_parse_choice_branch_taken() -> None:
    history = History('{"mode":"fast"}')
    choice = history.enter("Choice", "Route", 0, '{"mode":"fast"}')
    exited = history.exit("Choice", "Route", choice, '{"mode":"fast"}')
    history.succeed(history.pass_state("FastPath", exited))
    run = history.parse()
    assert _only(run.visits_of("Route")).next_state == "FastPath"
    assert run.path == ["Route", "FastPath"]


# Size


def test_parse_459_iterations_counts() -> None:
    history = History()
    exited = _sequential_map(history, "Words", 0, items=459)
    history.succeed(exited)
    run = history.parse()
    words = _only(run.maps_of("Words"))
    assert words.length == 459
    assert words.iterations_started == 459
    assert words.iterations_succeeded == 459
    assert len(run.visits_of("Item")) == 459
    assert [visit.iteration_index for visit in run.visits_of("Item")] == list(range(459))


def _long_task_map(iterations: int) -> History:
    history = History()
    entered = history.enter("Map", "Embed", 0)
    last = history.add("MapStateStarted", entered, length=iterations)
    for index in range(iterations):
        started = history.add("MapIterationStarted", last, index=index, name="Embed")
        last = history.task_state("CallModel", started)
        history.add("MapIterationSucceeded", last, index=index, name="Embed")
    history.add("MapStateSucceeded", last)
    history.succeed(history.exit("Map", "Embed", last, "[]"))
    return history


def test_parse_25000_events() -> None:
    history = _long_task_map(3572)
    assert len(history.events) >= 25_000
    started = time.perf_counter()
    run = history.parse()
    elapsed = time.perf_counter() - started
    embed = _only(run.maps_of("Embed"))
    assert run.event_count == len(history.events)
    assert embed.iterations_succeeded == 3572
    assert len(run.visits_of("CallModel")) == 3572
    # Printed for `pytest -s`; no assertion on time, because machines differ.
    print(f"parsed {run.event_count} events in {elapsed:.3f} s")


# Tasks and Lambda request ids


def _envelope(request_id: str) -> str:
    return json.dumps(
        {
            "ExecutedVersion": "$LATEST",
            "Payload": {"ok": True},
            "SdkHttpMetadata": {"HttpHeaders": {"x-amzn-RequestId": request_id}},
            "SdkResponseMetadata": {"RequestId": request_id},
            "StatusCode": 200,
        }
    )


def test_parse_task_request_ids_in_attempt_order() -> None:
    history = History()
    entered = history.enter("Task", "Call", 0)
    scheduled = history.add("TaskScheduled", entered, resource="invoke", resourceType="lambda")
    cause = json.dumps({"errorMessage": "x", "errorType": "E", "requestId": "req-1"})
    failed = history.add("TaskFailed", scheduled, error="E", cause=cause, resourceType="lambda")
    scheduled = history.add("TaskScheduled", failed, resource="invoke", resourceType="lambda")
    succeeded = history.add(
        "TaskSucceeded",
        scheduled,
        resourceType="lambda",
        resource="invoke",
        output=_envelope("req-2"),
        outputDetails={"truncated": False},
    )
    history.succeed(history.exit("Task", "Call", succeeded))
    run = history.parse()
    call = _only(run.visits_of("Call"))
    assert call.lambda_request_ids == ["req-1", "req-2"]
    assert call.retries == 1
    assert call.task_resource == "invoke"
    assert call.task_resource_type == "lambda"


def test_request_id_from_header_only() -> None:
    output = json.dumps({"SdkHttpMetadata": {"HttpHeaders": {"X-Amzn-RequestId": "req-9"}}})
    assert lambda_request_id_from_result(output) == "req-9"


def test_request_id_absent() -> None:
    assert lambda_request_id_from_result('{"StatusCode":200,"Payload":{}}') is None
    assert lambda_request_id_from_result("not json RequestId") is None
    assert lambda_request_id_from_result(None) is None


def test_parse_non_lambda_task_has_no_request_id() -> None:
    history = History()
    entered = history.enter("Task", "Put", 0)
    scheduled = history.add("TaskScheduled", entered, resource="putItem", resourceType="dynamodb")
    succeeded = history.add(
        "TaskSucceeded",
        scheduled,
        resourceType="dynamodb",
        resource="putItem",
        output=_envelope("ddb-1"),
    )
    history.succeed(history.exit("Task", "Put", succeeded))
    assert _only(history.parse().visits_of("Put")).lambda_request_ids == []


# Execution status and odd input


def test_parse_aborted_map_counts() -> None:
    history = History()
    entered = history.enter("Map", "Fan", 0)
    started = history.add("MapStateStarted", entered, length=2)
    first = history.add("MapIterationStarted", started, index=0, name="Fan")
    wait = history.enter("Wait", "Hold", first)
    history.add("WaitStateAborted", wait)
    history.add("MapIterationAborted", wait, index=0, name="Fan")
    history.add("MapStateAborted", wait)
    history.add("ExecutionAborted", 0)
    run = history.parse()
    fan = _only(run.maps_of("Fan"))
    assert fan.iterations_aborted == 1
    assert fan.status == "ABORTED"
    assert _only(run.visits_of("Hold")).aborted is True
    assert run.status == "ABORTED"


def test_parse_execution_failed_without_cause() -> None:
    history = History()
    entered = history.enter("Task", "Slow", 0)
    scheduled = history.add("TaskScheduled", entered, resource="invoke", resourceType="lambda")
    timed_out = history.add("TaskTimedOut", scheduled, error="States.Timeout")
    history.add("ExecutionFailed", timed_out, error="States.Timeout")
    run = history.parse()
    assert run.status == "FAILED"
    assert run.error == "States.Timeout"
    assert run.cause is None
    assert run.failed_state == "Slow"


def test_parse_timed_out_execution() -> None:
    history = History()
    entered = history.enter("Wait", "Hold", 0)
    history.add("ExecutionTimedOut", entered, error="States.Timeout")
    run = history.parse()
    assert run.status == "TIMED_OUT"
    assert run.terminal_event_id == 3


def test_parse_redriven_execution_running() -> None:
    history = History()
    entered = history.enter("Task", "Call", 0)
    failed = history.add("ExecutionFailed", entered, error="E", cause="c")
    history.add("ExecutionRedriven", failed, redriveCount=1)
    run = history.parse()
    assert run.status == "RUNNING"
    assert run.error is None


def test_parse_running_without_terminal_event() -> None:
    history = History()
    history.enter("Wait", "Hold", 0)
    run = history.parse()
    assert run.status == "RUNNING"
    assert run.stopped_at is None
    assert _only(run.visits_of("Hold")).exited_event_id is None


def test_parse_describe_fills_missing_status() -> None:
    history = History()
    history.enter("Wait", "Hold", 0)
    describe = {
        "status": "SUCCEEDED",
        "startDate": T0,
        "stopDate": "2025-01-01T12:05:00Z",
        "output": "{}",
    }
    run = parse_history(history.events, describe)
    assert run.status == "SUCCEEDED"
    assert run.stopped_at == datetime(2025, 1, 1, 12, 5, tzinfo=UTC)
    assert run.output == "{}"


def test_parse_events_win_over_describe() -> None:
    history = History()
    history.add("ExecutionFailed", history.enter("Fail", "Stop", 0), error="E")
    run = parse_history(history.events, {"status": "RUNNING", "startDate": T0})
    assert run.status == "FAILED"
    assert run.started_at == T0 + timedelta(milliseconds=10)


def test_parse_unknown_event_type_ignored() -> None:
    history = History()
    entered = history.enter("Pass", "P", 0)
    odd = history.add("QuantumStateEntangled", entered, spin="up")
    history.succeed(history.exit("Pass", "P", odd))
    run = history.parse()
    assert run.status == "SUCCEEDED"
    assert _only(run.visits_of("P")).exited_event_id == 4


def test_parse_events_without_details() -> None:
    history = History()
    entered = history.add("PassStateEntered", 0)
    history.add("PassStateExited", entered)
    history.add("ExecutionFailed", 3)
    run = history.parse()
    assert run.status == "FAILED"
    assert run.error is None
    assert len(run.visits) == 1


def test_parse_mid_history_without_start() -> None:
    history = History()
    _sequential_map(history, "Fan", 0, items=3)
    tail = history.events[7:]
    run = parse_history(tail)
    assert run.started_at is None
    assert run.input is None
    assert run.event_count == len(tail)
    assert len(run.visits_of("Item")) == 2


def test_parse_accepts_newest_first() -> None:
    history, _ = _interleaved_history()
    forward = history.parse()
    backward = parse_history(list(reversed(history.events)))
    assert [visit.entered_event_id for visit in backward.visits] == [
        visit.entered_event_id for visit in forward.visits
    ]


def test_parse_string_timestamps() -> None:
    history = History()
    history.succeed(history.pass_state("P", 0))
    for event in history.events:
        event["timestamp"] = event["timestamp"].isoformat().replace("+00:00", "Z")
    run = history.parse()
    assert run.started_at == T0 + timedelta(milliseconds=10)
    assert _only(run.visits_of("P")).duration_seconds == pytest.approx(0.01)


def test_parse_timestamp_forms() -> None:
    aware = datetime(2025, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert parse_timestamp(aware) == aware
    assert parse_timestamp(datetime(2025, 1, 1, 12, 0)) == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_timestamp("2025-01-01T12:00:00.000Z") == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert parse_timestamp("2025-01-01 12:00:00+00:00") == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert parse_timestamp(1735732800) == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None


@pytest.mark.parametrize(
    "events",
    [
        {"events": []},
        "[]",
        [{"type": "ExecutionStarted"}],
        [{"id": 1}],
        [{"id": "one", "type": "ExecutionStarted"}],
        [None],
    ],
)
def test_parse_rejects_malformed_input(events: Any) -> None:
    with pytest.raises(ValueError, match="history event"):
        parse_history(events)


def test_parse_empty_history() -> None:
    run = parse_history([])
    assert run.status == "RUNNING"
    assert run.visits == []


# A run on the local moto server


CONCURRENT_DEFINITION = {
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Next": "Done",
            "Branches": [
                {
                    "StartAt": "Fan",
                    "States": {
                        "Fan": {
                            "Type": "Map",
                            "ItemsPath": "$.items",
                            "MaxConcurrency": 0,
                            "End": True,
                            "ItemProcessor": {
                                "ProcessorConfig": {"Mode": "INLINE"},
                                "StartAt": "Hold",
                                "States": {
                                    "Hold": {"Type": "Wait", "SecondsPath": "$.s", "Next": "Mark"},
                                    "Mark": {"Type": "Pass", "End": True},
                                },
                            },
                        }
                    },
                },
                {"StartAt": "Side", "States": {"Side": {"Type": "Pass", "End": True}}},
            ],
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def _run_on_moto(moto_server: MotoServer, definition: dict[str, Any], payload: Any) -> Any:
    import boto3

    client = boto3.client(
        "stepfunctions", endpoint_url=moto_server.endpoint_url, region_name="us-east-1"
    )
    machine = client.create_state_machine(
        name=f"history-parser-{time.monotonic_ns()}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )
    execution = client.start_execution(
        stateMachineArn=machine["stateMachineArn"], input=json.dumps(payload)
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = client.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(0.2)
    history = client.get_execution_history(executionArn=execution["executionArn"])
    return history["events"], described


@pytest.mark.sandbox
def test_parse_moto_concurrent_map_in_parallel(moto_server: MotoServer) -> None:
    events, described = _run_on_moto(
        moto_server, CONCURRENT_DEFINITION, {"items": [{"s": 1}, {"s": 0}, {"s": 0}]}
    )
    run = parse_history(events, described)
    assert run.status == "SUCCEEDED"
    assert run.path == ["Both", "Done"]
    fan = _only(run.maps_of("Fan"))
    assert fan.iterations_started == 3
    assert fan.iterations_succeeded == 3
    assert fan.parent_map == "Both"
    marks = run.visits_of("Mark")
    assert len(marks) == 3
    assert {mark.iteration_index for mark in marks} == {0, 1, 2}
    for mark in marks:
        assert mark.parent_map == "Fan"
    for hold in run.visits_of("Hold"):
        assert hold.next_state == "Mark"
    assert _only(run.visits_of("Side")).parent_state_type == "Parallel"
