"""The evidence beside each staged history, read back over HTTP with boto3.

Lambda logs in CloudWatch Logs, poll_results.json and the ChromaDB snapshot in S3, and the
denied reads through the proxy. Logs and objects are read from moto itself unless a test is
about the proxy.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sfn_forensics.logs import find_signals, parse_log_events
from sfn_forensics.sandbox.scenarios import (
    INCIDENT_CHUNKS,
    INCIDENT_EXECUTION_NAME,
    INCIDENT_POLLED_EMBEDDINGS,
    INCIDENT_SNAPSHOT_EMBEDDINGS,
    POLL_RESULTS_INCOMPLETE_EXECUTION_NAME,
    S3_READ_DENIED_EXECUTION_NAME,
    SCENARIOS,
    VECTORS_BUCKET,
    Scenario,
)
from sfn_forensics.sandbox.staging import StagedSandbox
from sfn_forensics.sandbox.workflows import (
    FUNCTION_FINAL_MERGE,
    FUNCTION_MERGE_CHUNK_GROUP,
    FUNCTION_NORMALIZE_POLL_RESULTS,
    FUNCTION_PROCESS_CHUNK,
    LAMBDA_FUNCTIONS,
)

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_stepfunctions.client import SFNClient

pytestmark = pytest.mark.sandbox

SCENARIO_IDS = [scenario.execution_name for scenario in SCENARIOS]
WITH_POLL_RESULTS = [scenario for scenario in SCENARIOS if scenario.writes_poll_results]
WITH_SNAPSHOT = [scenario for scenario in SCENARIOS if scenario.writes_snapshot]
HEALTHY = [scenario for scenario in SCENARIOS if scenario.expected.verdict == "healthy"]

STREAM_NAME = re.compile(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}")
REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms"
    r"\tMemory Size: 1024 MB\tMax Memory Used: (?P<used>\d+) MB(?:\tInit Duration: \d+\.\d\d ms)?"
    r"\t\n"
)
POWERTOOLS_KEYS = {
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "function_request_id",
    "execution_name",
}
# The incident's history: 490 invocations, about four lines each.
INCIDENT_MAX_LOG_LINES = 20_000

Event = dict[str, Any]


def _client(service: Any, endpoint_url: str | None) -> Any:
    # Explicit fake credentials: module-scoped fixtures run outside the autouse environment.
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def moto_s3(sandbox: StagedSandbox) -> S3Client:
    client: S3Client = _client("s3", sandbox.moto_endpoint_url)
    return client


@pytest.fixture(scope="module")
def proxy_s3(sandbox: StagedSandbox) -> S3Client:
    client: S3Client = _client("s3", sandbox.endpoint_url)
    return client


@dataclass
class Invocation:
    """The log records of one Lambda invocation (one request id)."""

    log_group: str
    stream: str
    request_id: str
    start: int | None = None
    end: int | None = None
    report: str | None = None
    report_time: int | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LogData:
    events: dict[str, list[Event]]
    # Per execution name: its invocations by (log group, request id).
    by_execution: dict[str, dict[tuple[str, str], Invocation]]
    invocations: dict[tuple[str, str], Invocation]


def _all_events(logs: CloudWatchLogsClient, group: str) -> list[Event]:
    events: list[Event] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    while True:
        page = logs.filter_log_events(**kwargs)
        events.extend(dict(event) for event in page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


@pytest.fixture(scope="module")
def log_data(sandbox: StagedSandbox) -> LogData:
    logs: CloudWatchLogsClient = _client("logs", sandbox.moto_endpoint_url)
    events = {
        f"/aws/lambda/{function}": _all_events(logs, f"/aws/lambda/{function}")
        for function in LAMBDA_FUNCTIONS
    }
    invocations: dict[tuple[str, str], Invocation] = {}

    def invocation(group: str, stream: str, request_id: str) -> Invocation:
        key = (group, request_id)
        if key not in invocations:
            invocations[key] = Invocation(group, stream, request_id)
        return invocations[key]

    for group, group_events in events.items():
        for event in group_events:
            message, stream, moment = event["message"], event["logStreamName"], event["timestamp"]
            if message.startswith("START RequestId: "):
                invocation(group, stream, message.split()[2]).start = moment
            elif message.startswith("END RequestId: "):
                invocation(group, stream, message.split()[2]).end = moment
            elif message.startswith("REPORT RequestId: "):
                item = invocation(group, stream, message.split()[2])
                item.report, item.report_time = message, moment
            else:
                document = json.loads(message)
                item = invocation(group, stream, document["function_request_id"])
                target = item.metrics if "_aws" in document else item.lines
                target.append(document)

    by_execution: dict[str, dict[tuple[str, str], Invocation]] = defaultdict(dict)
    for key, item in invocations.items():
        names = {document["execution_name"] for document in item.lines + item.metrics}
        assert len(names) == 1, (key, names)
        by_execution[names.pop()][key] = item
    return LogData(events=events, by_execution=dict(by_execution), invocations=invocations)


@pytest.fixture(scope="module")
def histories(sandbox: StagedSandbox) -> dict[str, list[Event]]:
    sfn: SFNClient = _client("stepfunctions", sandbox.moto_endpoint_url)
    result: dict[str, list[Event]] = {}
    for name, staged in sandbox.scenarios.items():
        events: list[Event] = []
        for page in sfn.get_paginator("get_execution_history").paginate(
            executionArn=staged.execution_arn
        ):
            events.extend(dict(event) for event in page["events"])
        result[name] = events
    return result


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _function_of(scheduled: Event) -> str:
    if scheduled["type"] == "LambdaFunctionScheduled":
        resource = scheduled["lambdaFunctionScheduledEventDetails"]["resource"]
    else:
        resource = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["FunctionName"]
    return str(resource).rsplit(":", 1)[-1]


def _history_windows(events: list[Event]) -> dict[str, list[tuple[int, int]]]:
    """(scheduled ms, ended ms) of every Lambda invocation, by log group."""
    by_id = {event["id"]: event for event in events}
    windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    end_types = {"LambdaFunctionSucceeded", "LambdaFunctionFailed", "TaskSucceeded", "TaskFailed"}
    for event in events:
        if event["type"] not in end_types:
            continue
        scheduled = by_id[by_id[event["previousEventId"]]["previousEventId"]]
        details = scheduled.get("taskScheduledEventDetails", {})
        if scheduled["type"] == "TaskScheduled" and details["resourceType"] != "lambda":
            continue
        group = f"/aws/lambda/{_function_of(scheduled)}"
        windows[group].append((_ms(scheduled["timestamp"]), _ms(event["timestamp"])))
    return {group: sorted(found) for group, found in windows.items()}


def _messages(
    invocations: dict[tuple[str, str], Invocation], function: str
) -> list[dict[str, Any]]:
    group = f"/aws/lambda/{function}"
    return [line for (name, _), item in invocations.items() if name == group for line in item.lines]


def _request_id_of(event: Event) -> str:
    message = str(event["message"])
    if message.startswith("{"):
        return str(json.loads(message)["function_request_id"])
    return message.split()[2]


def _read_json(s3: S3Client, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=VECTORS_BUCKET, Key=key)["Body"].read())


# --- CloudWatch Logs --------------------------------------------------------------------------


def test_log_groups_exist(log_data: LogData) -> None:
    assert all(log_data.events[f"/aws/lambda/{function}"] for function in LAMBDA_FUNCTIONS)


def test_log_stream_names(log_data: LogData) -> None:
    streams = {event["logStreamName"] for events in log_data.events.values() for event in events}
    assert all(STREAM_NAME.fullmatch(stream) for stream in streams)


def test_every_invocation_has_platform_records(log_data: LogData) -> None:
    incomplete = [
        key
        for key, item in log_data.invocations.items()
        if item.start is None or item.end is None or item.report is None
    ]
    assert incomplete == []


def test_report_records_format(log_data: LogData) -> None:
    reports = [item.report for item in log_data.invocations.values()]
    assert all(report is not None and REPORT.fullmatch(report) for report in reports)


def test_init_duration_on_first_invocation_of_stream(log_data: LogData) -> None:
    by_stream: dict[tuple[str, str], list[Invocation]] = defaultdict(list)
    for item in log_data.invocations.values():
        by_stream[(item.log_group, item.stream)].append(item)
    for items in by_stream.values():
        items.sort(key=lambda item: item.start or 0)
        with_init = ["Init Duration" in str(item.report) for item in items]
        assert with_init == [True] + [False] * (len(items) - 1)


def test_stream_invocations_do_not_overlap(log_data: LogData) -> None:
    by_stream: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for item in log_data.invocations.values():
        assert item.start is not None and item.report_time is not None
        by_stream[(item.log_group, item.stream)].append((item.start, item.report_time))
    for windows in by_stream.values():
        windows.sort()
        assert all(end < start for (_, end), (start, _) in itertools.pairwise(windows))


def test_streams_hold_a_few_invocations(log_data: LogData) -> None:
    per_stream = Counter((item.log_group, item.stream) for item in log_data.invocations.values())
    assert max(per_stream.values()) <= 6


def test_structured_lines_have_powertools_keys(log_data: LogData) -> None:
    lines = [line for item in log_data.invocations.values() for line in item.lines]
    assert all(set(line) >= POWERTOOLS_KEYS for line in lines)
    assert {line["service"] for line in lines} == {"embedding-ingest"}


def test_structured_line_timestamps_match_events(log_data: LogData) -> None:
    for events in log_data.events.values():
        for event in events:
            if event["message"].startswith("{") and '"_aws"' not in event["message"]:
                written = datetime.fromisoformat(json.loads(event["message"])["timestamp"])
                assert _ms(written) == event["timestamp"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_logs_match_history_windows(
    log_data: LogData, histories: dict[str, list[Event]], scenario: Scenario
) -> None:
    invocations = log_data.by_execution[scenario.execution_name]
    logged: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (group, _), item in invocations.items():
        assert item.start is not None and item.report_time is not None
        logged[group].append((item.start, item.report_time))
    assert {group: sorted(found) for group, found in logged.items()} == _history_windows(
        histories[scenario.execution_name]
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_application_lines_inside_invocation(log_data: LogData, scenario: Scenario) -> None:
    for item in log_data.by_execution[scenario.execution_name].values():
        assert item.start is not None and item.report_time is not None
        for line in item.lines:
            moment = _ms(datetime.fromisoformat(line["timestamp"]))
            assert item.start <= moment <= item.report_time


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_chunk_lines_sum_to_chunk_stage(log_data: LogData, scenario: Scenario) -> None:
    lines = _messages(log_data.by_execution[scenario.execution_name], FUNCTION_PROCESS_CHUNK)
    merged = [line["embeddings_merged"] for line in lines if line["message"] == "Chunk merged"]
    expected = scenario.expected.embedding_stages.stages["chunks_processed"]
    assert (sum(merged) if merged else None) == expected
    assert len(merged) == (scenario.expected.counts.chunks or 0)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_metric_records_sum_to_chunk_stage(log_data: LogData, scenario: Scenario) -> None:
    invocations = log_data.by_execution[scenario.execution_name]
    metrics = [metric for item in invocations.values() for metric in item.metrics]
    total = sum(metric["EmbeddingsMerged"] for metric in metrics) if metrics else None
    assert total == scenario.expected.embedding_stages.stages["chunks_processed"]
    namespaces = {m["_aws"]["CloudWatchMetrics"][0]["Namespace"] for m in metrics}
    assert namespaces <= {"EmbeddingIngest"}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=SCENARIO_IDS)
def test_group_lines_sum_to_group_stage(log_data: LogData, scenario: Scenario) -> None:
    lines = _messages(log_data.by_execution[scenario.execution_name], FUNCTION_MERGE_CHUNK_GROUP)
    merged = [line["total_embeddings"] for line in lines if line["message"] == "Group merged"]
    expected = scenario.expected.embedding_stages.stages["group_merges"]
    assert (sum(merged) if merged else None) == expected


@pytest.mark.parametrize("scenario", WITH_SNAPSHOT, ids=[s.execution_name for s in WITH_SNAPSHOT])
def test_final_merge_line_names_snapshot(log_data: LogData, scenario: Scenario) -> None:
    lines = _messages(log_data.by_execution[scenario.execution_name], FUNCTION_FINAL_MERGE)
    complete = [line for line in lines if line["message"] == "Final merge complete"]
    assert [(line["total_embeddings"], line["snapshot_key"]) for line in complete] == [
        (scenario.expected.final_merge.total_embeddings, scenario.snapshot_key())
    ]


@pytest.mark.parametrize("scenario", HEALTHY, ids=[s.execution_name for s in HEALTHY])
def test_healthy_logs_have_no_signals(log_data: LogData, scenario: Scenario) -> None:
    invocations = log_data.by_execution[scenario.execution_name]
    lines = []
    for group, events in log_data.events.items():
        own = [event for event in events if (group, _request_id_of(event)) in invocations]
        lines.extend(parse_log_events(own, group))
    assert lines
    assert find_signals(lines) == []


def test_incident_chunk_truncation_warnings(log_data: LogData) -> None:
    lines = _messages(log_data.by_execution[INCIDENT_EXECUTION_NAME], FUNCTION_PROCESS_CHUNK)
    warnings = [line for line in lines if line["level"] == "WARNING"]
    assert len(warnings) == INCIDENT_CHUNKS
    assert {line["deltas_processed"] for line in warnings} == {10}
    last = next(line for line in warnings if line["chunk_index"] == INCIDENT_CHUNKS - 1)
    assert last["message"] == "Chunk 22 has 19 deltas, processing first 10"
    assert last["deltas_total"] == 19


def test_incident_group_truncation_warning(log_data: LogData) -> None:
    lines = _messages(log_data.by_execution[INCIDENT_EXECUTION_NAME], FUNCTION_MERGE_CHUNK_GROUP)
    warnings = [line for line in lines if line["level"] == "WARNING"]
    assert [line["message"] for line in warnings] == ["Group 0 has 20 chunks, processing first 10"]
    assert (warnings[0]["chunks_total"], warnings[0]["chunks_processed"]) == (20, 10)


def test_incident_log_volume(log_data: LogData) -> None:
    invocations = log_data.by_execution[INCIDENT_EXECUTION_NAME]
    records = sum(3 + len(item.lines) + len(item.metrics) for item in invocations.values())
    assert len(invocations) == 490
    assert records < INCIDENT_MAX_LOG_LINES


def test_group_merge_error_lines(log_data: LogData) -> None:
    lines = _messages(
        log_data.by_execution["sandbox-group-merge-error"], FUNCTION_MERGE_CHUNK_GROUP
    )
    group_one = [line for line in lines if line["group_index"] == 1]
    assert [line["level"] for line in group_one] == ["INFO", "ERROR", "WARNING"]
    assert group_one[1]["message"].startswith("Group merge failed: ")
    assert group_one[2]["message"] == "Returning error response instead of raising"


def test_final_merge_failed_error_per_attempt(log_data: LogData) -> None:
    lines = _messages(log_data.by_execution["sandbox-final-merge-failed"], FUNCTION_FINAL_MERGE)
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 3
    assert {line["error_type"] for line in errors} == {"Function.ResponseSizeTooLarge"}


def test_normalize_skip_warnings(log_data: LogData, moto_s3: S3Client) -> None:
    invocations = log_data.by_execution[POLL_RESULTS_INCOMPLETE_EXECUTION_NAME]
    lines = _messages(invocations, FUNCTION_NORMALIZE_POLL_RESULTS)
    warnings = [line for line in lines if line["level"] == "WARNING"]
    scenario = next(
        s for s in SCENARIOS if s.execution_name == POLL_RESULTS_INCOMPLETE_EXECUTION_NAME
    )
    entries = _read_json(moto_s3, scenario.poll_results_s3_key())
    missing = {batch.batch_id for batch in scenario.plan.batches} - {
        entry["batch_id"] for entry in entries
    }
    assert {line["batch_id"] for line in warnings} == missing
    assert all(
        line["message"] == f"Skipping invalid S3 reference for batch {line['batch_id']}"
        for line in warnings
    )
    wrote = [line for line in lines if line["message"] == "Wrote poll results"]
    assert wrote[0]["entries"] == 47


# --- poll_results.json ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario", WITH_POLL_RESULTS, ids=[s.execution_name for s in WITH_POLL_RESULTS]
)
def test_poll_results_entries(moto_s3: S3Client, scenario: Scenario) -> None:
    entries = _read_json(moto_s3, scenario.poll_results_s3_key())
    assert len(entries) == scenario.plan.poll_results_entries()
    processed = [entry for entry in entries if entry["action"] == "process_results"]
    assert sum(entry["embedding_count"] for entry in processed) == (
        scenario.plan.poll_results_embeddings()
    )
    assert all(
        {"results_count", "delta_id", "delta_key", "embedding_count"} <= set(entry)
        for entry in processed
    )


@pytest.mark.parametrize(
    "scenario", WITH_POLL_RESULTS, ids=[s.execution_name for s in WITH_POLL_RESULTS]
)
def test_poll_results_sum_is_expected_stage(moto_s3: S3Client, scenario: Scenario) -> None:
    if scenario.s3_reads_denied:
        return
    entries = _read_json(moto_s3, scenario.poll_results_s3_key())
    total = sum(e["embedding_count"] for e in entries if e["action"] == "process_results")
    assert total == scenario.expected.embedding_stages.stages["poll_results"]


def test_incident_poll_results(moto_s3: S3Client) -> None:
    key = f"poll_results/{INCIDENT_EXECUTION_NAME}/poll_results.json"
    entries = _read_json(moto_s3, key)
    assert len(entries) == 459
    assert sum(entry["embedding_count"] for entry in entries) == INCIDENT_POLLED_EMBEDDINGS
    assert {entry["action"] for entry in entries} == {"process_results"}


def test_poll_results_wait_entries(moto_s3: S3Client) -> None:
    entries = _read_json(moto_s3, "poll_results/sandbox-no-chunks/poll_results.json")
    assert [entry["action"] for entry in entries] == ["wait"] * 3
    assert {entry["batch_status"] for entry in entries} == {"in_progress"}


def test_no_poll_results_without_normalize(moto_s3: S3Client) -> None:
    listing = moto_s3.list_objects_v2(
        Bucket=VECTORS_BUCKET, Prefix="poll_results/sandbox-no-pending-batches/"
    )
    assert listing.get("KeyCount", 0) == 0


# --- snapshots --------------------------------------------------------------------------------


def _listing(s3: S3Client, prefix: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=VECTORS_BUCKET, Prefix=prefix):
        objects.extend(dict(item) for item in page.get("Contents", []))
    return objects


@pytest.mark.parametrize("scenario", WITH_SNAPSHOT, ids=[s.execution_name for s in WITH_SNAPSHOT])
def test_snapshot_hash_matches_listing(moto_s3: S3Client, scenario: Scenario) -> None:
    prefix = scenario.snapshot_key()
    objects = _listing(moto_s3, prefix)
    files = [item for item in objects if not item["Key"].endswith("/.snapshot_hash")]
    document = _read_json(moto_s3, prefix + ".snapshot_hash")
    assert document["algorithm"] == "sha256"
    assert document["file_count"] == len(files) == len(objects) - 1
    assert document["total_size_bytes"] == sum(item["Size"] for item in files)
    assert re.fullmatch(r"[0-9a-f]{64}", document["directory_hash"])
    assert datetime.fromisoformat(document["calculated_at"]).tzinfo is not None
    assert prefix + "chroma.sqlite3" in {item["Key"] for item in files}


@pytest.mark.parametrize("scenario", WITH_SNAPSHOT, ids=[s.execution_name for s in WITH_SNAPSHOT])
def test_snapshot_object_metadata(moto_s3: S3Client, scenario: Scenario) -> None:
    prefix = scenario.snapshot_key()
    document = _read_json(moto_s3, prefix + ".snapshot_hash")
    expected = {
        "snapshot_key": prefix,
        "batch_id": scenario.execution_name,
        "total_embeddings": str(scenario.expected.final_merge.total_embeddings),
        "database": scenario.plan.database,
        "snapshot_hash": document["directory_hash"],
    }
    for item in _listing(moto_s3, prefix):
        head = moto_s3.head_object(Bucket=VECTORS_BUCKET, Key=item["Key"])
        assert head["Metadata"] == expected, item["Key"]


def test_snapshot_pointers_name_latest_versions(moto_s3: S3Client) -> None:
    for database in ("words", "lines"):
        versions = [s.snapshot_version for s in WITH_SNAPSHOT if s.plan.database == database]
        body = moto_s3.get_object(
            Bucket=VECTORS_BUCKET, Key=f"{database}/snapshot/latest-pointer.txt"
        )
        assert body["Body"].read().decode() == max(str(version) for version in versions)


def test_no_snapshot_for_failed_final_merge(moto_s3: S3Client) -> None:
    scenario = next(s for s in SCENARIOS if s.execution_name == "sandbox-final-merge-failed")
    assert _listing(moto_s3, scenario.snapshot_key()) == []


def test_incident_snapshot_counts_13223(moto_s3: S3Client) -> None:
    import chromadb
    from chromadb.config import Settings

    prefix = next(
        s for s in SCENARIOS if s.execution_name == INCIDENT_EXECUTION_NAME
    ).snapshot_key()
    document = _read_json(moto_s3, prefix + ".snapshot_hash")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        digest = hashlib.sha256()
        for item in sorted(_listing(moto_s3, prefix), key=lambda entry: entry["Key"]):
            relative = item["Key"][len(prefix) :]
            if relative == ".snapshot_hash":
                continue
            body = moto_s3.get_object(Bucket=VECTORS_BUCKET, Key=item["Key"])["Body"].read()
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            digest.update(relative.encode() + b"\0" + body)
        client = chromadb.PersistentClient(
            path=directory, settings=Settings(anonymized_telemetry=False)
        )
        try:
            collections = client.list_collections()
            counts = {collection.name: collection.count() for collection in collections}
        finally:
            # Client.close (chromadb 1.x) is not declared on ClientAPI.
            getattr(client, "close", lambda: None)()
    assert counts == {"words": INCIDENT_SNAPSHOT_EMBEDDINGS}
    assert digest.hexdigest() == document["directory_hash"]


# --- denied reads through the proxy ------------------------------------------------------------


def _denied_scenario() -> Scenario:
    return next(s for s in SCENARIOS if s.execution_name == S3_READ_DENIED_EXECUTION_NAME)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code"))


def test_staged_sandbox_lists_denied_reads(sandbox: StagedSandbox) -> None:
    assert sandbox.denied_reads == list(_denied_scenario().denied_reads())


def test_denied_poll_results_through_proxy(proxy_s3: S3Client) -> None:
    with pytest.raises(ClientError) as raised:
        proxy_s3.get_object(Bucket=VECTORS_BUCKET, Key=_denied_scenario().poll_results_s3_key())
    assert _error_code(raised.value) == "AccessDenied"


def test_denied_snapshot_through_proxy(proxy_s3: S3Client) -> None:
    key = _denied_scenario().snapshot_key() + ".snapshot_hash"
    with pytest.raises(ClientError) as get_error:
        proxy_s3.get_object(Bucket=VECTORS_BUCKET, Key=key)
    with pytest.raises(ClientError) as head_error:
        proxy_s3.head_object(Bucket=VECTORS_BUCKET, Key=key)
    assert _error_code(get_error.value) == "AccessDenied"
    assert _error_code(head_error.value) == "403"


def test_denied_objects_readable_on_moto(moto_s3: S3Client) -> None:
    scenario = _denied_scenario()
    entries = _read_json(moto_s3, scenario.poll_results_s3_key())
    head = moto_s3.head_object(
        Bucket=VECTORS_BUCKET, Key=scenario.snapshot_key() + ".snapshot_hash"
    )
    assert len(entries) == 30
    assert head["Metadata"]["total_embeddings"] == "4050"


def test_other_objects_readable_through_proxy(proxy_s3: S3Client) -> None:
    key = f"poll_results/{INCIDENT_EXECUTION_NAME}/poll_results.json"
    head = proxy_s3.head_object(Bucket=VECTORS_BUCKET, Key=key)
    assert head["ContentLength"] > 0
