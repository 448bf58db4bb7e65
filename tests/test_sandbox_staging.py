"""The staged sandbox, read back over HTTP with boto3: statuses, paths, counts and outputs."""

from __future__ import annotations

import json
import socket
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.lambda_logs import marker_stream
from sfn_forensics.sandbox.scenarios import (
    INCIDENT_EXECUTION_NAME,
    INCIDENT_SNAPSHOT_EMBEDDINGS,
    SCENARIOS,
    VECTORS_BUCKET,
    Scenario,
    get_scenario,
)
from sfn_forensics.sandbox.server import require_loopback, start_moto_server
from sfn_forensics.sandbox.staging import StagedSandbox, StagedScenario, stage_sandbox
from sfn_forensics.sandbox.workflows import (
    FUNCTION_FINAL_MERGE,
    FUNCTION_MARK_BATCHES_COMPLETE,
    LAMBDA_FUNCTIONS,
    load_definition,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_stepfunctions.client import SFNClient

pytestmark = pytest.mark.sandbox

SCENARIO_IDS = [scenario.execution_name for scenario in SCENARIOS]
NON_LOOPBACK_ENDPOINT = "http://192.0.2.1:1"

Event = dict[str, Any]


def _moto_url(sandbox: StagedSandbox) -> str:
    assert sandbox.moto_endpoint_url is not None
    return sandbox.moto_endpoint_url


def _sfn(sandbox: StagedSandbox, endpoint_url: str | None = None) -> SFNClient:
    # Explicit fake credentials: module-scoped fixtures run outside the autouse environment.
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint_url or sandbox.endpoint_url,
        region_name=sandbox.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _lambda(sandbox: StagedSandbox) -> LambdaClient:
    return boto3.client(
        "lambda",
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def histories(sandbox: StagedSandbox) -> dict[str, list[Event]]:
    # Read from moto itself: the proxy fetches a whole history from moto for every page.
    sfn = _sfn(sandbox, _moto_url(sandbox))
    result: dict[str, list[Event]] = {}
    for name, staged in sandbox.scenarios.items():
        events: list[Event] = []
        for page in sfn.get_paginator("get_execution_history").paginate(
            executionArn=staged.execution_arn
        ):
            events.extend(dict(event) for event in page["events"])
        result[name] = events
    return result


def _staged(sandbox: StagedSandbox, scenario: Scenario) -> StagedScenario:
    return sandbox.scenarios[scenario.execution_name]


def _entered_top_level(events: list[Event], scenario: Scenario) -> list[str]:
    """Names of entered states that are top-level states of the definition, in event order."""
    top_level = set(load_definition(scenario.state_machine)["States"])
    names = [
        event["stateEnteredEventDetails"]["name"]
        for event in events
        if event["type"].endswith("StateEntered")
    ]
    return [name for name in names if name in top_level]


def _state_output(events: list[Event], state_name: str) -> Any:
    """Parsed output of the last exit from `state_name`, or None when it never exited."""
    outputs = [
        event["stateExitedEventDetails"]["output"]
        for event in events
        if event["type"].endswith("StateExited")
        and event["stateExitedEventDetails"]["name"] == state_name
    ]
    return json.loads(outputs[-1]) if outputs else None


def _iterations_succeeded(events: list[Event], map_name: str) -> int:
    return sum(
        1
        for event in events
        if event["type"] == "MapIterationSucceeded"
        and event["mapIterationSucceededEventDetails"]["name"] == map_name
    )


def _function_of(scheduled: Event) -> str:
    if scheduled["type"] == "LambdaFunctionScheduled":
        resource = scheduled["lambdaFunctionScheduledEventDetails"]["resource"]
    else:
        parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
        resource = parameters["FunctionName"]
    return str(resource).rsplit(":", 1)[-1]


def _lambda_outcomes(events: list[Event], function_name: str) -> list[Event]:
    """Succeeded/failed events of invocations of `function_name`, found via previousEventId."""
    by_id = {event["id"]: event for event in events}
    outcome_types = {
        "LambdaFunctionSucceeded",
        "LambdaFunctionFailed",
        "TaskSucceeded",
        "TaskFailed",
    }
    outcomes = []
    for event in events:
        if event["type"] not in outcome_types:
            continue
        parent = by_id.get(event["previousEventId"])
        while parent is not None and parent["type"] not in (
            "LambdaFunctionScheduled",
            "TaskScheduled",
        ):
            parent = by_id.get(parent["previousEventId"])
        if parent is not None and _function_of(parent) == function_name:
            outcomes.append(event)
    return outcomes


# --- every scenario ---------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_execution_status(sandbox: StagedSandbox, scenario: Scenario) -> None:
    staged = _staged(sandbox, scenario)
    described = _sfn(sandbox).describe_execution(executionArn=staged.execution_arn)
    assert described["status"] == scenario.expected.execution_status


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_execution_runs_on_its_state_machine(
    sandbox: StagedSandbox, scenario: Scenario
) -> None:
    staged = _staged(sandbox, scenario)
    described = _sfn(sandbox).describe_execution(executionArn=staged.execution_arn)
    assert described["stateMachineArn"] == staged.state_machine_arn
    assert staged.state_machine_arn.endswith(f":stateMachine:{scenario.state_machine}")
    assert described["name"] == scenario.execution_name


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_top_level_path(histories: dict[str, list[Event]], scenario: Scenario) -> None:
    entered = _entered_top_level(histories[scenario.execution_name], scenario)
    assert entered == scenario.expected_top_level_states()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_map_iterations(histories: dict[str, list[Event]], scenario: Scenario) -> None:
    events = histories[scenario.execution_name]
    states = scenario.workflow.states
    counts = scenario.expected.counts
    assert _iterations_succeeded(events, states.poll_map) == (counts.batches_polled or 0)
    assert _iterations_succeeded(events, states.process_chunks_map) == (counts.chunks or 0)
    assert _iterations_succeeded(events, states.merge_groups_map) == (counts.groups or 0)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_batches_listed(histories: dict[str, list[Event]], scenario: Scenario) -> None:
    events = histories[scenario.execution_name]
    output = _state_output(events, scenario.workflow.states.list_pending)
    assert output["list_result"]["total_batches"] == scenario.expected.counts.batches_listed


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_polled_embeddings(histories: dict[str, list[Event]], scenario: Scenario) -> None:
    output = _state_output(histories[scenario.execution_name], scenario.workflow.states.poll_map)
    if scenario.expected.embeddings.polled is None:
        assert output is None
        return
    polled = sum(result["embedding_count"] for result in output["poll_results"])
    assert polled == scenario.expected.embeddings.polled


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_group_merge_errors(histories: dict[str, list[Event]], scenario: Scenario) -> None:
    states = scenario.workflow.states
    output = _state_output(histories[scenario.execution_name], states.merge_groups_map)
    counts = scenario.expected.counts
    if counts.groups is None:
        assert output is None
        return
    status_codes = [result["statusCode"] for result in output["group_merge_results"]]
    assert status_codes.count(500) == counts.group_merge_errors
    assert status_codes.count(200) == counts.groups_merged


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_final_merge(histories: dict[str, list[Event]], scenario: Scenario) -> None:
    expected = scenario.expected.final_merge
    outcomes = _lambda_outcomes(histories[scenario.execution_name], FUNCTION_FINAL_MERGE)
    assert len(outcomes) == expected.attempts
    if expected.outcome == "succeeded":
        assert outcomes[-1]["type"] == "TaskSucceeded"
        payload = json.loads(outcomes[-1]["taskSucceededEventDetails"]["output"])["Payload"]
        assert payload["statusCode"] == expected.status_code
        assert payload["total_embeddings"] == expected.total_embeddings
    elif expected.outcome == "failed":
        assert {event["type"] for event in outcomes} == {"TaskFailed"}
        assert outcomes[-1]["taskFailedEventDetails"]["error"] == expected.error


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_batches_marked_complete(
    histories: dict[str, list[Event]], scenario: Scenario
) -> None:
    events = histories[scenario.execution_name]
    outcomes = _lambda_outcomes(events, FUNCTION_MARK_BATCHES_COMPLETE)
    expected = scenario.expected.counts.batches_marked_complete
    if expected is None:
        assert outcomes == []
        return
    output = json.loads(outcomes[-1]["lambdaFunctionSucceededEventDetails"]["output"])
    assert output["batches_marked"] == expected


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_staged_output_final_merge_result(sandbox: StagedSandbox, scenario: Scenario) -> None:
    described = _sfn(sandbox).describe_execution(
        executionArn=_staged(sandbox, scenario).execution_arn
    )
    output = json.loads(described.get("output", "null")) or {}
    assert ("final_merge_result" in output) == scenario.expected.output_has_final_merge_result


# --- the incident -----------------------------------------------------------------------------


def test_incident_poll_map_has_459_iterations(histories: dict[str, list[Event]]) -> None:
    events = histories[INCIDENT_EXECUTION_NAME]
    assert _iterations_succeeded(events, "PollWordBatches") == 459


def test_incident_output_lacks_final_merge_result(sandbox: StagedSandbox) -> None:
    staged = sandbox.scenarios[INCIDENT_EXECUTION_NAME]
    described = _sfn(sandbox).describe_execution(executionArn=staged.execution_arn)
    output = json.loads(described["output"])
    assert described["status"] == "SUCCEEDED"
    assert "final_merge_result" not in output
    assert output["mark_complete_result"]["batches_marked"] == 459


def test_incident_final_merge_output_shows_13223(histories: dict[str, list[Event]]) -> None:
    events = histories[INCIDENT_EXECUTION_NAME]
    output = _state_output(events, "WordFinalMerge")
    assert output["final_merge_result"]["total_embeddings"] == INCIDENT_SNAPSHOT_EMBEDDINGS
    assert output["final_merge_result"]["statusCode"] == 200


def test_incident_prepare_mark_drops_final_merge_result(
    histories: dict[str, list[Event]],
) -> None:
    output = _state_output(histories[INCIDENT_EXECUTION_NAME], "PrepareMarkWordBatchesComplete")
    assert "final_merge_result" not in output


def test_incident_ran_faulty_definition(sandbox: StagedSandbox) -> None:
    staged = sandbox.scenarios[INCIDENT_EXECUTION_NAME]
    described = _sfn(sandbox).describe_state_machine_for_execution(
        executionArn=staged.execution_arn
    )
    state = json.loads(described["definition"])["States"]["PrepareMarkWordBatchesComplete"]
    assert "final_merge_result.$" not in state["Parameters"]


# --- staging itself ---------------------------------------------------------------------------


def test_staging_leaves_lambda_queue_empty(sandbox: StagedSandbox) -> None:
    probe = json.dumps({"probe": str(uuid.uuid4())})
    response = _lambda(sandbox).invoke(FunctionName="test-queue-probe", Payload=probe.encode())
    assert response["Payload"].read().decode() == probe


def test_restaging_reuses_executions(sandbox: StagedSandbox) -> None:
    again = stage_sandbox(_moto_url(sandbox), sandbox.region)
    assert [item.started_by_this_staging for item in again] == [False] * len(SCENARIOS)
    assert {item.name: item.execution_arn for item in again} == {
        name: item.execution_arn for name, item in sandbox.scenarios.items()
    }


def test_restaging_writes_no_evidence(sandbox: StagedSandbox) -> None:
    again = stage_sandbox(_moto_url(sandbox), sandbox.region)
    assert [item.evidence for item in again] == [None] * len(SCENARIOS)


def test_restaging_starts_no_execution(sandbox: StagedSandbox) -> None:
    sfn = _sfn(sandbox)
    arns = {item.state_machine_arn for item in sandbox.scenarios.values()}
    before = {arn: len(sfn.list_executions(stateMachineArn=arn)["executions"]) for arn in arns}
    stage_sandbox(_moto_url(sandbox), sandbox.region)
    after = {arn: len(sfn.list_executions(stateMachineArn=arn)["executions"]) for arn in arns}
    assert after == before


def test_staging_wrote_evidence(sandbox: StagedSandbox) -> None:
    missing = [name for name, item in sandbox.scenarios.items() if item.evidence is None]
    assert missing == []


def test_sandbox_serves_through_proxy(sandbox: StagedSandbox) -> None:
    assert sandbox.endpoint_url != sandbox.moto_endpoint_url
    staged = sandbox.scenarios[INCIDENT_EXECUTION_NAME]
    page = _sfn(sandbox).get_execution_history(executionArn=staged.execution_arn, maxResults=1000)
    # moto returns all 3,446 events in one page; the proxy splits them into pages like AWS.
    assert len(page["events"]) == 1000
    assert "nextToken" in page


def test_staged_every_scenario(sandbox: StagedSandbox) -> None:
    assert set(sandbox.scenarios) == set(SCENARIO_IDS)


# --- loopback guard ---------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test on any attempt to open a TCP connection."""

    def reject_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected network connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", reject_connection)
    monkeypatch.setattr(socket, "create_connection", reject_connection)


@pytest.mark.usefixtures("no_network")
def test_require_loopback_rejects_remote_endpoint() -> None:
    with pytest.raises(SandboxError):
        require_loopback(NON_LOOPBACK_ENDPOINT)


@pytest.mark.usefixtures("no_network")
def test_stage_sandbox_rejects_remote_endpoint() -> None:
    with pytest.raises(SandboxError, match="not a loopback endpoint"):
        stage_sandbox(NON_LOOPBACK_ENDPOINT, "us-east-1")


# --- evidence left incomplete by an earlier staging --------------------------------------------


def _count_own_log_events(logs: CloudWatchLogsClient, execution_name: str) -> int:
    total = 0
    for function in LAMBDA_FUNCTIONS:
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{function}"}
        while True:
            try:
                page = logs.filter_log_events(**kwargs)
            except logs.exceptions.ResourceNotFoundException:
                break
            total += sum(execution_name in event["message"] for event in page["events"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return total


def test_restaging_writes_missing_evidence() -> None:
    scenario = get_scenario("sandbox-dropped-final-merge-result")
    server = start_moto_server()
    try:
        first = stage_sandbox(server.endpoint_url, "us-east-1", scenarios=[scenario])[0]
        logs: CloudWatchLogsClient = boto3.client(
            "logs", endpoint_url=server.endpoint_url, region_name="us-east-1"
        )
        s3: S3Client = boto3.client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1")
        sfn: SFNClient = boto3.client(
            "stepfunctions", endpoint_url=server.endpoint_url, region_name="us-east-1"
        )
        started = sfn.describe_execution(executionArn=first.execution_arn)
        group, stream = marker_stream(scenario.execution_name, started["startDate"])
        before = _count_own_log_events(logs, scenario.execution_name)
        logs.delete_log_stream(logGroupName=group, logStreamName=stream)

        again = stage_sandbox(server.endpoint_url, "us-east-1", scenarios=[scenario])[0]
        listing = s3.list_objects_v2(Bucket=VECTORS_BUCKET, Prefix=scenario.snapshot_key())
        assert not again.started_by_this_staging
        assert again.evidence is not None
        assert first.evidence is not None
        assert again.evidence.log_events == first.evidence.log_events
        assert _count_own_log_events(logs, scenario.execution_name) == before
        assert listing["KeyCount"] == first.evidence.snapshot_objects
    finally:
        server.stop()
