"""Evidence writers on small inputs: history records, log streams, poll results, snapshots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.artifacts import normalize_poll_results
from sfn_forensics.sandbox.invocations import (
    ExecutionRecord,
    LambdaInvocation,
    read_execution_record,
)
from sfn_forensics.sandbox.lambda_logs import (
    EVENT_OVERHEAD_BYTES,
    MAX_BYTES_PER_PUT,
    MAX_EVENTS_PER_PUT,
    MAX_INVOCATIONS_PER_STREAM,
    LogEvent,
    _put_batches,
    build_log_streams,
    marker_stream,
)
from sfn_forensics.sandbox.server import MotoServer
from sfn_forensics.sandbox.snapshots import (
    BuiltSnapshot,
    SnapshotBuilder,
    SnapshotSpec,
    hash_directory,
    upload_snapshot,
)
from sfn_forensics.sandbox.workflows import (
    FUNCTION_FINAL_MERGE,
    FUNCTION_LIST_PENDING,
    FUNCTION_POLL_BATCH,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

START = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


def _at(milliseconds: int) -> datetime:
    return START + timedelta(milliseconds=milliseconds)


def _history() -> list[dict[str, Any]]:
    """A list invoke (lambda:invoke), one poll (function ARN) and a failed final merge attempt."""
    return [
        {"id": 1, "type": "ExecutionStarted", "timestamp": _at(0)},
        {
            "id": 2,
            "previousEventId": 1,
            "type": "TaskScheduled",
            "timestamp": _at(10),
            "taskScheduledEventDetails": {
                "resourceType": "lambda",
                "parameters": json.dumps(
                    {"FunctionName": ARN + FUNCTION_LIST_PENDING, "Payload": {"batch_type": "word"}}
                ),
            },
        },
        {"id": 3, "previousEventId": 2, "type": "TaskStarted", "timestamp": _at(10)},
        {
            "id": 4,
            "previousEventId": 3,
            "type": "TaskSucceeded",
            "timestamp": _at(30),
            "taskSucceededEventDetails": {
                "output": json.dumps({"StatusCode": 200, "Payload": {"total_batches": 1}})
            },
        },
        {
            "id": 5,
            "previousEventId": 4,
            "type": "LambdaFunctionScheduled",
            "timestamp": _at(40),
            "lambdaFunctionScheduledEventDetails": {
                "resource": ARN + FUNCTION_POLL_BATCH,
                "input": json.dumps({"batch_id": "b-1"}),
            },
        },
        {"id": 6, "previousEventId": 5, "type": "LambdaFunctionStarted", "timestamp": _at(41)},
        {
            "id": 7,
            "previousEventId": 6,
            "type": "LambdaFunctionSucceeded",
            "timestamp": _at(55),
            "lambdaFunctionSucceededEventDetails": {
                "output": json.dumps({"batch_id": "b-1", "batch_status": "completed"})
            },
        },
        {
            "id": 8,
            "previousEventId": 7,
            "type": "TaskScheduled",
            "timestamp": _at(60),
            "taskScheduledEventDetails": {
                "resourceType": "lambda",
                "parameters": json.dumps({"FunctionName": FUNCTION_FINAL_MERGE, "Payload": {}}),
            },
        },
        {"id": 9, "previousEventId": 8, "type": "TaskStarted", "timestamp": _at(60)},
        {
            "id": 10,
            "previousEventId": 9,
            "type": "TaskFailed",
            "timestamp": _at(75),
            "taskFailedEventDetails": {
                "error": "Function.ResponseSizeTooLarge",
                "cause": json.dumps({"errorMessage": "Response payload size exceeded"}),
            },
        },
        {"id": 11, "previousEventId": 10, "type": "ExecutionFailed", "timestamp": _at(80)},
    ]


# --- history records --------------------------------------------------------------------------


def test_record_reads_both_resource_kinds() -> None:
    record = read_execution_record("run-1", _history())
    assert [item.function_name for item in record.invocations] == [
        FUNCTION_LIST_PENDING,
        FUNCTION_POLL_BATCH,
        FUNCTION_FINAL_MERGE,
    ]


def test_record_unwraps_lambda_invoke_payload() -> None:
    record = read_execution_record("run-1", _history())
    assert record.invocations[0].output == {"total_batches": 1}
    assert record.invocations[0].input == {"batch_type": "word"}


def test_record_windows_from_scheduled_to_end() -> None:
    poll = read_execution_record("run-1", _history()).invocations[1]
    assert (poll.scheduled_at, poll.ended_at) == (_at(40), _at(55))


def test_record_failed_attempt() -> None:
    merge = read_execution_record("run-1", _history()).invocations[2]
    assert not merge.succeeded
    assert merge.output is None
    assert merge.error == "Function.ResponseSizeTooLarge"


def test_record_execution_times() -> None:
    record = read_execution_record("run-1", _history())
    assert (record.started_at, record.stopped_at) == (_at(0), _at(80))


def test_record_rejects_unended_invocation() -> None:
    with pytest.raises(SandboxError, match="has no end event"):
        read_execution_record("run-1", _history()[:5])


def test_record_rejects_empty_history() -> None:
    with pytest.raises(SandboxError, match="no events"):
        read_execution_record("run-1", [])


# --- poll results -----------------------------------------------------------------------------


def test_normalize_skips_uri_references() -> None:
    entries, skipped = normalize_poll_results(
        [
            {"batch_id": "a", "batch_status": "completed", "result_s3_key": "words/delta/d-a/"},
            {"batch_id": "b", "batch_status": "completed", "result_s3_key": "s3://bucket/x/"},
            {"batch_id": "c", "batch_status": "in_progress", "result_s3_key": None},
        ]
    )
    assert [entry["batch_id"] for entry in entries] == ["a", "c"]
    assert [result["batch_id"] for result in skipped] == ["b"]


def test_normalize_processed_entry_fields() -> None:
    entries, _ = normalize_poll_results(
        [
            {
                "batch_id": "a",
                "openai_batch_id": "batch_1",
                "batch_status": "completed",
                "result_s3_key": "words/delta/d-a/",
                "embedding_count": 12,
            }
        ]
    )
    assert entries == [
        {
            "batch_id": "a",
            "openai_batch_id": "batch_1",
            "batch_status": "completed",
            "action": "process_results",
            "results_count": 12,
            "delta_id": "d-a",
            "delta_key": "words/delta/d-a/",
            "embedding_count": 12,
        }
    ]


def test_normalize_in_progress_waits() -> None:
    entries, _ = normalize_poll_results([{"batch_id": "c", "batch_status": "in_progress"}])
    assert entries[0]["action"] == "wait"
    assert "embedding_count" not in entries[0]


# --- log streams ------------------------------------------------------------------------------


def _poll_invocation(event_id: int, start_ms: int, end_ms: int) -> LambdaInvocation:
    return LambdaInvocation(
        function_name=FUNCTION_POLL_BATCH,
        scheduled_event_id=event_id,
        scheduled_at=_at(start_ms),
        ended_at=_at(end_ms),
        succeeded=True,
        input={"batch_id": f"b-{event_id}"},
        output={"batch_id": f"b-{event_id}", "batch_status": "completed", "embedding_count": 3},
    )


def _record(invocations: list[LambdaInvocation]) -> ExecutionRecord:
    return ExecutionRecord("run-1", START, _at(10_000), tuple(invocations))


def test_overlapping_invocations_use_separate_streams() -> None:
    streams = build_log_streams(
        _record([_poll_invocation(1, 0, 50), _poll_invocation(2, 10, 60)]), "us-east-1", "1"
    )
    assert len(streams) == 2


def test_sequential_invocations_share_stream() -> None:
    streams = build_log_streams(
        _record([_poll_invocation(1, 0, 50), _poll_invocation(2, 51, 60)]), "us-east-1", "1"
    )
    assert len(streams) == 1
    assert len(streams[0].events) == 2 * 4


def test_stream_takes_limited_invocations() -> None:
    invocations = [_poll_invocation(i, 100 * i, 100 * i + 10) for i in range(1, 14)]
    streams = build_log_streams(_record(invocations), "us-east-1", "1")
    starts = [sum(e.message.startswith("START") for e in stream.events) for stream in streams]
    assert starts == [MAX_INVOCATIONS_PER_STREAM, MAX_INVOCATIONS_PER_STREAM, 1]


def test_invocation_records_inside_window() -> None:
    streams = build_log_streams(_record([_poll_invocation(1, 0, 50)]), "us-east-1", "1")
    times = [event.timestamp for event in streams[0].events]
    start_ms = int(START.timestamp() * 1000)
    assert times[0] == start_ms
    assert times[-1] == start_ms + 50
    assert times == sorted(times)


def test_application_lines_name_execution() -> None:
    streams = build_log_streams(_record([_poll_invocation(1, 0, 50)]), "us-east-1", "1")
    documents = [json.loads(e.message) for e in streams[0].events if e.message.startswith("{")]
    assert [document["message"] for document in documents] == ["Polled batch"]
    assert documents[0]["execution_name"] == "run-1"
    assert documents[0]["batch_id"] == "b-1"


def test_cold_start_only_first_in_stream() -> None:
    streams = build_log_streams(
        _record([_poll_invocation(1, 0, 50), _poll_invocation(2, 51, 60)]), "us-east-1", "1"
    )
    reports = [e.message for e in streams[0].events if e.message.startswith("REPORT")]
    assert ["Init Duration" in report for report in reports] == [True, False]


def test_list_streams_come_last() -> None:
    record = read_execution_record("run-1", _history())
    streams = build_log_streams(record, "us-east-1", "123456789012")
    assert (streams[-1].log_group, streams[-1].name) == marker_stream("run-1", record.started_at)


def test_put_batches_respect_count_limit() -> None:
    events = [LogEvent(i, "x") for i in range(MAX_EVENTS_PER_PUT + 5)]
    assert [len(batch) for batch in _put_batches(events)] == [MAX_EVENTS_PER_PUT, 5]


def test_put_batches_respect_size_limit() -> None:
    message = "y" * (100_000 - EVENT_OVERHEAD_BYTES)
    batches = list(_put_batches([LogEvent(i, message) for i in range(25)]))
    assert [len(batch) for batch in batches] == [10, 10, 5]
    assert all(len(batch) * 100_000 <= MAX_BYTES_PER_PUT for batch in batches)


# --- snapshots --------------------------------------------------------------------------------


def test_hash_directory_covers_paths_and_content(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.bin").write_bytes(b"1")
    (tmp_path / "chroma.sqlite3").write_bytes(b"22")
    (tmp_path / ".snapshot_hash").write_text("{}")
    files, first = hash_directory(tmp_path)
    (tmp_path / "a" / "one.bin").write_bytes(b"3")
    _, changed = hash_directory(tmp_path)
    assert files == (("a/one.bin", 1), ("chroma.sqlite3", 2))
    assert first != changed


@pytest.fixture
def s3(moto_server: MotoServer) -> Iterator[S3Client]:
    client: S3Client = boto3.client("s3", endpoint_url=moto_server.endpoint_url)
    client.create_bucket(Bucket="sandbox-units")
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket="sandbox-units"):
        for item in page.get("Contents", []):
            client.delete_object(Bucket="sandbox-units", Key=item["Key"])
    client.delete_bucket(Bucket="sandbox-units")


def _built(directory: Path) -> BuiltSnapshot:
    (directory / "chroma.sqlite3").write_bytes(b"db")
    files, digest = hash_directory(directory)
    return BuiltSnapshot(str(directory), "words", 5, files, digest, 0.0)


def test_upload_snapshot_moves_pointer_forward(s3: S3Client, tmp_path: Path) -> None:
    built = _built(tmp_path)
    for version in ("20260101_000000", "20260102_000000"):
        upload_snapshot(
            s3, "sandbox-units", f"words/snapshot/timestamped/{version}/", "run", built, START
        )
    pointer = s3.get_object(Bucket="sandbox-units", Key="words/snapshot/latest-pointer.txt")
    assert pointer["Body"].read() == b"20260102_000000"


def test_upload_snapshot_keeps_later_pointer(s3: S3Client, tmp_path: Path) -> None:
    built = _built(tmp_path)
    later = upload_snapshot(
        s3, "sandbox-units", "words/snapshot/timestamped/20260102_000000/", "a", built, START
    )
    earlier = upload_snapshot(
        s3, "sandbox-units", "words/snapshot/timestamped/20260101_000000/", "b", built, START
    )
    pointer = s3.get_object(Bucket="sandbox-units", Key="words/snapshot/latest-pointer.txt")
    assert (later.pointer_updated, earlier.pointer_updated) == (True, False)
    assert pointer["Body"].read() == b"20260102_000000"


def test_upload_snapshot_puts_hash_file_last(s3: S3Client, tmp_path: Path) -> None:
    uploaded = upload_snapshot(
        s3,
        "sandbox-units",
        "words/snapshot/timestamped/20260101_000000/",
        "run",
        _built(tmp_path),
        START,
    )
    assert uploaded.keys == (
        "words/snapshot/timestamped/20260101_000000/chroma.sqlite3",
        "words/snapshot/timestamped/20260101_000000/.snapshot_hash",
    )


def test_upload_snapshot_rejects_unversioned_prefix(s3: S3Client, tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="is not <database>/snapshot/timestamped"):
        upload_snapshot(s3, "sandbox-units", "words/snapshot/", "run", _built(tmp_path), START)


def test_snapshot_builder_counts_embeddings() -> None:
    spec = SnapshotSpec("run-1", "words", (("b-1", 3), ("b-2", 4)))
    with SnapshotBuilder() as builder:
        builder.submit("run-1", spec)
        built = builder.result("run-1")
        assert built.total_embeddings == 7
        assert "chroma.sqlite3" in {path for path, _ in built.files}


def test_snapshot_builder_reports_failed_build() -> None:
    # Chroma rejects collection names shorter than 3 characters.
    spec = SnapshotSpec("run-1", "w", (("b-1", 1),))
    with SnapshotBuilder() as builder:
        builder.submit("bad", spec)
        with pytest.raises(SandboxError, match="building the snapshot of bad failed"):
            builder.result("bad")


def test_snapshot_builder_rejects_unknown_name() -> None:
    with SnapshotBuilder() as builder, pytest.raises(SandboxError, match="no snapshot build"):
        builder.result("never-submitted")
