"""`parse_history` on execution histories recorded against AWS."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sfn_forensics.history.model import ExecutionRun, MapVisit, StateVisit
from sfn_forensics.history.parser import parse_history
from tests.conftest import RECORDED_FIXTURES

VisitT = TypeVar("VisitT", StateVisit, MapVisit)

RECORDED_FILES = sorted(
    path.name for path in RECORDED_FIXTURES.glob("*.json") if path.name != "INDEX.json"
)


def _load(directory: Path, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((directory / name).read_text())
    return document


def _parse(directory: Path, name: str) -> ExecutionRun:
    document = _load(directory, name)
    return parse_history(document["events"], document.get("describe_execution"))


def _final_status(directory: Path, name: str) -> str:
    index = _load(directory, "INDEX.json")
    statuses = {entry["file"]: entry["final_status"] for entry in index["files"]}
    return str(statuses[name])


def _only(visits: list[VisitT]) -> VisitT:
    assert len(visits) == 1, [visit.entered_event_id for visit in visits]
    return visits[0]


def test_recorded_files_all_indexed(recorded_fixtures: Path) -> None:
    index = _load(recorded_fixtures, "INDEX.json")
    assert RECORDED_FILES
    assert sorted(entry["file"] for entry in index["files"]) == RECORDED_FILES


@pytest.mark.parametrize("name", RECORDED_FILES)
def test_recorded_status(recorded_fixtures: Path, name: str) -> None:
    run = _parse(recorded_fixtures, name)
    assert run.status == _final_status(recorded_fixtures, name)


@pytest.mark.parametrize("name", RECORDED_FILES)
def test_recorded_visit_per_entered_event(recorded_fixtures: Path, name: str) -> None:
    document = _load(recorded_fixtures, name)
    run = _parse(recorded_fixtures, name)
    entered = [event["id"] for event in document["events"] if event["type"].endswith("Entered")]
    assert [visit.entered_event_id for visit in run.visits] == entered
    assert run.event_count == len(document["events"])


@pytest.mark.parametrize("name", RECORDED_FILES)
def test_recorded_map_counts_match_events(recorded_fixtures: Path, name: str) -> None:
    document = _load(recorded_fixtures, name)
    types = Counter(event["type"] for event in document["events"])
    run = _parse(recorded_fixtures, name)
    assert len(run.maps) == types["MapStateEntered"]
    assert sum(visit.attempts for visit in run.maps) == types["MapStateStarted"]
    assert sum(visit.iterations_started for visit in run.maps) == types["MapIterationStarted"]
    assert sum(visit.iterations_succeeded for visit in run.maps) == types["MapIterationSucceeded"]
    assert sum(visit.iterations_failed for visit in run.maps) == types["MapIterationFailed"]
    assert sum(visit.iterations_aborted for visit in run.maps) == types["MapIterationAborted"]
    with_run_arn = [visit for visit in run.maps if visit.map_run_arn is not None]
    assert len(with_run_arn) == types["MapRunStarted"]


@pytest.mark.parametrize("name", RECORDED_FILES)
def test_recorded_failures_have_states(recorded_fixtures: Path, name: str) -> None:
    run = _parse(recorded_fixtures, name)
    for failure in run.failures:
        assert failure.state is not None, failure


# Maps


def test_recorded_inline_map_iterations(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "inline-map.json")
    map_visit = _only_map(run)
    assert map_visit.length == 8
    assert map_visit.iterations_started == 8
    assert map_visit.iterations_succeeded == 8
    assert map_visit.status == "SUCCEEDED"


def test_recorded_inline_map_visit_scopes(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "inline-map.json")
    items = run.visits_of("HandleItem")
    assert [visit.iteration_index for visit in items] == list(range(8))
    for visit in items:
        assert visit.parent_map == "MapState"
    assert run.path == ["StartState", "MapState", "Final"]
    assert _only(run.visits_of("MapState")).exited_event_id == 39


def test_recorded_inline_map_retry(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "inline-map-retry.json")
    map_visit = _only_map(run)
    assert map_visit.attempts == 3
    assert map_visit.iterations_started == 3
    assert map_visit.iterations_failed == 3
    assert map_visit.status == "FAILED"
    assert _only(run.visits_of("MapState")).retries == 2
    assert run.failed_state == "MapState"


def test_recorded_inline_map_break_condition(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "inline-map-break-condition.json")
    map_visit = _only_map(run)
    assert map_visit.length == 7
    assert map_visit.iterations_started == 5
    assert map_visit.iterations_succeeded == 4
    assert map_visit.iterations_failed == 1
    assert map_visit.status == "FAILED"
    assert _only(run.visits_of("Break")).iteration_index == 4


def test_recorded_inline_map_choice_branches(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "inline-map-break-condition.json")
    taken = [visit.next_state for visit in run.visits_of("Equals3")]
    assert taken == ["Pass", "Pass", "Pass", "Pass", "Break"]


def test_recorded_inline_map_catch(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "inline-map-catch.json")
    map_visit = _only_map(run)
    assert map_visit.status == "FAILED"
    assert map_visit.iterations_failed == 1
    assert _only(run.visits_of("MapState")).next_state == "FinalCaught"
    assert run.status == "SUCCEEDED"


def test_recorded_distributed_map_succeeded(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "distributed-map-succeeded.json")
    map_visit = _only_map(run)
    assert map_visit.length == 3
    assert map_visit.iterations_started == 0
    assert map_visit.status == "SUCCEEDED"
    assert map_visit.map_run_arn is not None
    assert ":mapRun:" in map_visit.map_run_arn
    assert _only(run.visits_of("MapState")).exited_event_id == 9
    assert run.path == ["Start", "MapState", "Finish"]


def test_recorded_distributed_map_reentrant(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "distributed-map-reentrant.json")
    assert [visit.entered_event_id for visit in run.maps] == [6, 16, 26]
    assert [visit.status for visit in run.maps] == ["SUCCEEDED"] * 3
    assert [visit.exited_event_id for visit in run.visits_of("IterationBody")] == [11, 21, 31]
    assert [visit.next_state for visit in run.visits_of("CheckIteration")] == [
        "BeforeIteration",
        "BeforeIteration",
        "Terminate",
    ]


def test_recorded_distributed_map_run_failed(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "distributed-map-run-failed.json")
    map_visit = _only_map(run)
    assert map_visit.length == 0
    assert map_visit.status == "FAILED"
    failure = _only_failure(run)
    assert failure.event_type == "MapRunFailed"
    assert failure.state == "MapState"
    assert failure.error == "States.ItemReaderFailed"
    assert run.error == "States.ItemReaderFailed"


def _only_map(run: ExecutionRun) -> Any:
    assert len(run.maps) == 1
    return run.maps[0]


def _only_failure(run: ExecutionRun) -> Any:
    assert len(run.failures) == 1, run.failures
    return run.failures[0]


# Failure attribution


def test_recorded_lambda_catch_failure_on_task(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "lambda-function-catch.json")
    failure = _only_failure(run)
    assert failure.event_id == 5
    assert failure.event_type == "LambdaFunctionFailed"
    assert failure.state == "Start"
    assert failure.error == "Exception"
    assert failure.retried is False


def test_recorded_lambda_catch_handler_clean(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "lambda-function-catch.json")
    start = _only(run.visits_of("Start"))
    handler = _only(run.visits_of("EndWithStateTaskFailedHandler"))
    assert [failure.event_id for failure in start.failures] == [5]
    assert handler.failures == []
    assert start.next_state == "EndWithStateTaskFailedHandler"
    assert start.lambda_request_ids == ["<uuid:1>"]


def test_recorded_lambda_invoke_retry_counts(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "lambda-invoke-retry.json")
    task = _only(run.visits_of("InvokeLambdaWithRetry"))
    assert task.retries == 3
    assert [failure.event_id for failure in task.failures] == [5, 8, 11, 14]
    assert [failure.retried for failure in task.failures] == [True, True, True, False]
    assert run.visits_of("HandleError")[0].failures == []


def test_recorded_lambda_invoke_retry_request_ids(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "lambda-invoke-retry.json")
    task = _only(run.visits_of("InvokeLambdaWithRetry"))
    assert task.lambda_request_ids == ["<uuid:1>", "<uuid:2>", "<uuid:3>", "<uuid:4>"]
    assert task.task_resource == "invoke"
    assert task.task_resource_type == "lambda"


def test_recorded_lambda_invoke_success_request_id(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "lambda-invoke-success.json")
    task = _only(run.visits_of("Start"))
    # The recording replaced the real id with the placeholder "RequestId".
    assert task.lambda_request_ids == ["RequestId"]
    assert task.task_parameters == '{"FunctionName":"<lambda_function_name>","Payload":null}'
    assert task.retries == 0


def test_recorded_jsonata_failure_on_failing_state(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "jsonata-evaluation-failed.json")
    failure = _only_failure(run)
    assert failure.event_id == 7
    assert failure.state == "State2"
    assert failure.error == "States.QueryEvaluationError"
    assert _only(run.visits_of("State1")).failures == []
    assert run.failed_state == "State2"


def test_recorded_lambda_function_timeout(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "lambda-function-timeout.json")
    failure = _only_failure(run)
    assert failure.event_type == "LambdaFunctionTimedOut"
    assert failure.state == "Start"
    assert run.error == "States.Timeout"
    assert run.cause is None


def test_recorded_fail_state(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "fail-state.json")
    assert run.failed_state == "FailState"
    assert run.failures == []
    assert run.terminal_event_id == 3


# Execution


def test_recorded_execution_aborted(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "execution-aborted.json")
    assert run.status == "ABORTED"
    assert run.error is None
    assert run.failed_state is None
    assert _only(run.visits_of("State_1")).exited_event_id is None


def test_recorded_timestamps_aware(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "inline-map.json")
    assert run.started_at is not None
    assert run.started_at.tzinfo is not None
    assert run.stopped_at is not None
    assert (run.stopped_at - run.started_at).total_seconds() == pytest.approx(0.41)


def test_recorded_choice_branch(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "choice-path-based-on-data.json")
    assert _only(run.visits_of("Choice State")).next_state == "NEXT_STATE_ONE"


def test_recorded_input_output(recorded_fixtures: Path) -> None:
    run = _parse(recorded_fixtures, "pass-parameters-null-paths.json")
    assert run.input == '{"InputValue":0}'
    assert run.output == "{}"
    assert run.started_event_id == 1
    state0 = _only(run.visits_of("State0"))
    assert state0.output == '{"Arg1":"argument1","FromInput":{"InputValue":0}}'
    assert state0.output_truncated is False


def test_recorded_describe_fills_first_page(recorded_fixtures: Path) -> None:
    document = _load(recorded_fixtures, "fail-state.json")
    first_page = document["events"][:2]
    run = parse_history(first_page, document["describe_execution"])
    assert run.status == "FAILED"
    assert run.terminal_event_id is None
    assert run.stopped_at is not None
    assert run.stopped_at.isoformat() == "2025-11-17T16:03:21.732000+00:00"
