"""Classification of Lambda log events into LogLine objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sfn_forensics.logs.model import LogLine
from sfn_forensics.logs.parse import (
    EPOCH,
    attach_request_ids,
    normalise_level,
    parse_log_event,
    parse_log_events,
)

GROUP = "/aws/lambda/merge"
STREAM = "2024/05/01/[$LATEST]0123456789abcdef"
REQUEST_ID = "8f5a1b2c-1111-2222-3333-444455556666"
OTHER_ID = "0b9c8d7e-aaaa-bbbb-cccc-ddddeeeeffff"
BASE_MS = 1_714_557_600_123  # 2024-05-01T10:00:00.123Z


def event(
    message: Any, offset_ms: int = 0, stream: str = STREAM, event_id: str = "1"
) -> dict[str, Any]:
    return {
        "logStreamName": stream,
        "timestamp": BASE_MS + offset_ms,
        "message": message,
        "ingestionTime": BASE_MS + offset_ms + 500,
        "eventId": event_id,
    }


def parse(message: Any, **kwargs: Any) -> LogLine:
    return parse_log_event(event(message, **kwargs), GROUP)


def test_parse_event_metadata() -> None:
    line = parse("hello\n", event_id="37000000000000000000000000000000000000000000000000000000")
    assert line.timestamp == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert line.log_group == GROUP
    assert line.log_stream == STREAM
    assert line.event_id == "37000000000000000000000000000000000000000000000000000000"
    assert line.raw == "hello\n"
    assert line.message == "hello"


def test_parse_log_group_from_event() -> None:
    line = parse_log_event({**event("x"), "logGroupName": "/aws/lambda/other"})
    assert line.log_group == "/aws/lambda/other"


def test_parse_start() -> None:
    line = parse(f"START RequestId: {REQUEST_ID} Version: $LATEST\n")
    assert line.kind == "start"
    assert line.request_id == REQUEST_ID
    assert line.fields == {"version": "$LATEST"}
    assert line.level is None


def test_parse_end() -> None:
    line = parse(f"END RequestId: {REQUEST_ID}\n")
    assert line.kind == "end"
    assert line.request_id == REQUEST_ID


def test_parse_report_with_init_duration() -> None:
    line = parse(
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 80 MB\tInit Duration: 250.1 ms\t\n"
    )
    assert line.kind == "report"
    assert line.request_id == REQUEST_ID
    assert line.duration_ms == 12.34
    assert line.billed_ms == 13
    assert line.memory_size_mb == 1024
    assert line.max_memory_mb == 80
    assert line.init_ms == 250.1


def test_parse_report_without_init_duration() -> None:
    line = parse(
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 1.79 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 46 MB\t\n"
    )
    assert line.duration_ms == 1.79
    assert line.billed_ms == 2
    assert line.memory_size_mb == 128
    assert line.max_memory_mb == 46
    assert line.init_ms is None


def test_parse_report_space_separated() -> None:
    line = parse(
        f"REPORT RequestId: {REQUEST_ID} Duration: 122204.28 ms Billed Duration: 122300 ms "
        "Memory Size: 256 MB Max Memory Used: 256 MB"
    )
    assert line.duration_ms == 122204.28
    assert line.billed_ms == 122300
    assert line.memory_size_mb == 256
    assert line.max_memory_mb == 256


def test_parse_report_status_and_trace() -> None:
    line = parse(
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\t"
        "Error Type: Runtime.OutOfMemory\t\nXRAY TraceId: 1-5e1b4151-5ac6c58f\tSegmentId: 1\t"
        "Sampled: true\t\n"
    )
    assert line.fields["status"] == "error"
    assert line.fields["error_type"] == "Runtime.OutOfMemory"
    assert line.fields["xray_trace_id"] == "1-5e1b4151-5ac6c58f"


def test_parse_report_restore_duration() -> None:
    line = parse(
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 5.00 ms\tBilled Duration: 200 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 90 MB\tRestore Duration: 300.50 ms\t"
        "Billed Restore Duration: 195 ms\t\n"
    )
    assert line.duration_ms == 5.0
    assert line.fields["restore_duration_ms"] == 300.5
    assert line.fields["billed_restore_duration_ms"] == 195
    assert line.init_ms is None


def test_parse_timeout() -> None:
    line = parse(f"2024-05-01T10:15:00.222Z {REQUEST_ID} Task timed out after 900.10 seconds\n")
    assert line.kind == "timeout"
    assert line.request_id == REQUEST_ID
    assert line.fields["timeout_seconds"] == 900.10


def test_parse_timeout_without_prefix() -> None:
    line = parse("Task timed out after 3.00 seconds")
    assert line.kind == "timeout"
    assert line.request_id is None


def test_parse_platform_runtime_error() -> None:
    line = parse(f"RequestId: {REQUEST_ID} Error: Runtime exited with error: signal: killed")
    assert line.kind == "message"
    assert line.level == "ERROR"
    assert line.request_id == REQUEST_ID
    assert line.message == "Error: Runtime exited with error: signal: killed"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("DEBUG", "DEBUG"),
        ("INFO", "INFO"),
        ("WARNING", "WARNING"),
        ("WARN", "WARNING"),
        ("ERROR", "ERROR"),
        ("CRITICAL", "CRITICAL"),
        ("FATAL", "CRITICAL"),
    ],
)
def test_parse_python_text_levels(written: str, expected: str) -> None:
    line = parse(f"[{written}]\t2024-05-01T10:00:00.123Z\t{REQUEST_ID}\tGroup has 20 chunks\n")
    assert line.kind == "message"
    assert line.level == expected
    assert line.request_id == REQUEST_ID
    assert line.message == "Group has 20 chunks"


def test_parse_python_text_without_request_id() -> None:
    line = parse("[INFO]\t2024-05-01T10:00:00.123Z\t\tLoaded configuration\n")
    assert line.level == "INFO"
    assert line.request_id is None
    assert line.message == "Loaded configuration"


def test_parse_python_text_keeps_tabs_in_message() -> None:
    line = parse(f"[INFO]\t2024-05-01T10:00:00.123Z\t{REQUEST_ID}\tcolumns\ta\tb\n")
    assert line.message == "columns\ta\tb"


def test_parse_python_uncaught_exception() -> None:
    line = parse("[ERROR] KeyError: 'batch_id'\rTraceback (most recent call last):\r  File x\n")
    assert line.level == "ERROR"
    assert line.request_id is None
    assert line.message.startswith("KeyError: 'batch_id'")


def test_parse_python_text_with_json_message() -> None:
    line = parse(
        f'[WARNING]\t2024-05-01T10:00:00.123Z\t{REQUEST_ID}\t{{"message": "cut", "kept": 10}}\n'
    )
    assert line.level == "WARNING"
    assert line.message == "cut"
    assert line.fields == {"kept": 10}


def test_parse_unknown_bracket_is_plain() -> None:
    line = parse("[chunk-7] merged")
    assert line.level is None
    assert line.message == "[chunk-7] merged"


def test_parse_node_text() -> None:
    line = parse(f"2024-05-01T10:00:00.123Z\t{REQUEST_ID}\tWARN\tEvent not processed.\n")
    assert line.level == "WARNING"
    assert line.request_id == REQUEST_ID
    assert line.message == "Event not processed."


def test_parse_plain_line() -> None:
    line = parse("merging 20 chunks\n")
    assert line.kind == "message"
    assert line.level is None
    assert line.request_id is None
    assert line.fields == {}


def test_parse_init_start_is_plain() -> None:
    line = parse("INIT_START Runtime Version: python:3.11.v29\tRuntime Version ARN: arn:x\n")
    assert line.kind == "message"
    assert line.level is None


def test_parse_structured_level_and_message() -> None:
    record = {"level": "warning", "message": "processing first 10", "batch_id": "b-1"}
    line = parse(json.dumps(record))
    assert line.kind == "message"
    assert line.level == "WARNING"
    assert line.message == "processing first 10"
    assert line.fields == {"batch_id": "b-1"}


def test_parse_structured_levelname_and_msg() -> None:
    line = parse(json.dumps({"levelname": "ERROR", "msg": "boom", "chunk": 3}))
    assert line.level == "ERROR"
    assert line.message == "boom"
    assert line.fields == {"chunk": 3}


def test_parse_powertools_line() -> None:
    record = {
        "level": "WARNING",
        "location": "handler:42",
        "message": "Group has 20 chunks, processing first 10",
        "timestamp": "2024-05-01 10:00:00,123+0000",
        "service": "merge",
        "cold_start": False,
        "function_name": "merge",
        "function_request_id": REQUEST_ID,
        "xray_trace_id": "1-6632145a-0123456789abcdef",
        "correlation_id": "exec-1",
    }
    line = parse(json.dumps(record))
    assert line.request_id == REQUEST_ID
    assert line.level == "WARNING"
    assert line.fields["xray_trace_id"] == "1-6632145a-0123456789abcdef"
    assert line.fields["correlation_id"] == "exec-1"
    assert "function_request_id" not in line.fields
    assert "message" not in line.fields


def test_parse_lambda_json_format() -> None:
    record = {
        "timestamp": "2024-05-01T10:00:00.123Z",
        "level": "INFO",
        "message": "done",
        "logger": "root",
        "requestId": REQUEST_ID,
    }
    line = parse(json.dumps(record))
    assert line.request_id == REQUEST_ID
    assert line.level == "INFO"
    assert line.message == "done"
    assert line.fields == {"timestamp": "2024-05-01T10:00:00.123Z", "logger": "root"}


def test_parse_structured_dict_message() -> None:
    line = parse(json.dumps({"level": "INFO", "message": {"kept": 10, "total": 20}}))
    assert line.message == '{"kept":10,"total":20}'


def test_parse_structured_numeric_level() -> None:
    line = parse(json.dumps({"level": 40, "msg": "slow"}))
    assert line.level == "WARNING"


def test_parse_json_without_level() -> None:
    line = parse('{"batch_id": "b-1", "status": "completed"}')
    assert line.kind == "message"
    assert line.level is None
    assert line.fields == {"batch_id": "b-1", "status": "completed"}
    assert line.message == '{"batch_id": "b-1", "status": "completed"}'


def test_parse_json_platform_start() -> None:
    record = {
        "time": "2024-05-01T10:00:00.123Z",
        "type": "platform.start",
        "record": {"requestId": REQUEST_ID, "version": "$LATEST"},
    }
    line = parse(json.dumps(record))
    assert line.kind == "start"
    assert line.request_id == REQUEST_ID
    assert line.fields == {"version": "$LATEST"}


def test_parse_json_platform_report() -> None:
    record = {
        "time": "2024-05-01T10:00:01.000Z",
        "type": "platform.report",
        "record": {
            "requestId": REQUEST_ID,
            "metrics": {
                "durationMs": 12.34,
                "billedDurationMs": 13,
                "memorySizeMB": 1024,
                "maxMemoryUsedMB": 80,
                "initDurationMs": 250.1,
            },
            "status": "success",
        },
    }
    line = parse(json.dumps(record))
    assert line.kind == "report"
    assert line.request_id == REQUEST_ID
    assert line.duration_ms == 12.34
    assert line.billed_ms == 13
    assert line.memory_size_mb == 1024
    assert line.max_memory_mb == 80
    assert line.init_ms == 250.1
    assert line.fields == {"status": "success"}


def test_parse_json_platform_other_type() -> None:
    record = {"time": "2024-05-01T10:00:00Z", "type": "platform.initStart", "record": {}}
    line = parse(json.dumps(record))
    assert line.kind == "message"
    assert line.message == "platform.initStart"


def test_parse_embedded_metric_format() -> None:
    record = {
        "_aws": {
            "Timestamp": BASE_MS,
            "CloudWatchMetrics": [
                {
                    "Namespace": "ingest",
                    "Dimensions": [["service"]],
                    "Metrics": [
                        {"Name": "ChunksMerged", "Unit": "Count"},
                        {"Name": "ChunkLatency", "Unit": "Milliseconds"},
                    ],
                }
            ],
        },
        "service": "merge",
        "ChunksMerged": 10,
        "ChunkLatency": [12.5, 13.0],
        "message": "not a log message",
    }
    line = parse(json.dumps(record))
    assert line.kind == "metric"
    assert line.metrics == {"ChunksMerged": 10, "ChunkLatency": [12.5, 13.0]}
    assert line.message == ""
    assert line.level is None
    assert line.fields == {"service": "merge", "message": "not a log message"}


@pytest.mark.parametrize(
    "message",
    [
        "{not json",
        '{"level": "INFO", "message": ',
        "[1, 2, 3]",
        "{" * 5000 + "}" * 5000,
        "",
        "\n",
    ],
)
def test_parse_odd_text_is_plain(message: str) -> None:
    line = parse(message)
    assert line.kind == "message"
    assert line.level is None
    assert line.fields == {}


@pytest.mark.parametrize(
    "odd_event",
    [
        {},
        {"message": None},
        {"message": 42, "timestamp": "yesterday"},
        {"message": "x", "timestamp": 10**20},
        {"message": b"bytes", "logStreamName": 7, "eventId": 12},
        {"message": '{"_aws": {"CloudWatchMetrics": "oops"}, "X": 1}'},
        {"message": '{"_aws": {"CloudWatchMetrics": [{"Metrics": [7, {"Name": 3}]}]}}'},
        {"message": '{"type": "platform.report", "record": {"metrics": [1]}}'},
        {"message": '{"type": "platform.report", "record": "x"}'},
        {"message": '{"level": ["x"], "message": null}'},
    ],
)
def test_parse_odd_event_does_not_raise(odd_event: dict[str, Any]) -> None:
    line = parse_log_event(odd_event, GROUP)
    assert isinstance(line.timestamp, datetime)
    assert line.timestamp.tzinfo is not None


def test_parse_missing_timestamp_uses_line_time() -> None:
    line = parse_log_event({"message": f"[INFO]\t2024-05-01T10:00:00.123Z\t{REQUEST_ID}\tx"}, GROUP)
    assert line.timestamp == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)


def test_parse_missing_timestamp_without_line_time() -> None:
    line = parse_log_event({"message": "x"}, GROUP)
    assert line.timestamp == EPOCH


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("warn", "WARNING"),
        (" Error ", "ERROR"),
        (50, "ERROR"),
        (True, None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_level_values(value: Any, expected: str | None) -> None:
    assert normalise_level(value) == expected


def invocation_events(request_id: str, start_ms: int, stream: str = STREAM) -> list[dict[str, Any]]:
    return [
        event(f"START RequestId: {request_id} Version: $LATEST\n", start_ms, stream),
        event("plain print output\n", start_ms + 1, stream),
        event('{"level": "WARNING", "message": "structured, no id"}', start_ms + 2, stream),
        event(f"END RequestId: {request_id}\n", start_ms + 3, stream),
        event(
            f"REPORT RequestId: {request_id}\tDuration: 3.00 ms\tBilled Duration: 3 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 40 MB\t\n",
            start_ms + 3,
            stream,
        ),
    ]


def test_attach_request_ids_inherits_within_invocation() -> None:
    lines = parse_log_events(invocation_events(REQUEST_ID, 0), GROUP)
    assert [line.request_id for line in lines] == [REQUEST_ID] * 5
    assert [line.request_id_inherited for line in lines] == [False, True, True, False, False]


def test_attach_request_ids_init_and_gap_lines() -> None:
    events = [
        event("[INFO]\t2024-05-01T10:00:00.000Z\t\tloading model\n", 0),
        *invocation_events(REQUEST_ID, 10),
        event("background thread output\n", 20),
        *invocation_events(OTHER_ID, 30),
    ]
    lines = parse_log_events(events, GROUP)
    assert lines[0].request_id is None
    assert lines[6].request_id is None
    assert lines[8].request_id == OTHER_ID


def test_attach_request_ids_orders_by_timestamp() -> None:
    events = invocation_events(REQUEST_ID, 0)
    shuffled = [events[2], events[4], events[0], events[3], events[1]]
    lines = parse_log_events(shuffled, GROUP)
    assert [line.message for line in lines] == [parse(e["message"]).message for e in shuffled]
    assert all(line.request_id == REQUEST_ID for line in lines)


def test_attach_request_ids_separates_streams() -> None:
    events = [
        event(f"START RequestId: {REQUEST_ID} Version: $LATEST\n", 0, "stream-a"),
        event("line in another stream\n", 1, "stream-b"),
        event("line in the same stream\n", 2, "stream-a"),
    ]
    lines = parse_log_events(events, GROUP)
    assert lines[1].request_id is None
    assert lines[2].request_id == REQUEST_ID


def test_attach_request_ids_start_without_end() -> None:
    events = [
        event(f"START RequestId: {REQUEST_ID} Version: $LATEST\n", 0),
        event("first invocation output\n", 1),
        event(f"START RequestId: {OTHER_ID} Version: $LATEST\n", 2),
        event("second invocation output\n", 3),
    ]
    lines = parse_log_events(events, GROUP)
    assert lines[1].request_id == REQUEST_ID
    assert lines[3].request_id == OTHER_ID


def test_attach_request_ids_keeps_own_id() -> None:
    events = [
        event(f"START RequestId: {REQUEST_ID} Version: $LATEST\n", 0),
        event(f"[INFO]\t2024-05-01T10:00:00.123Z\t{OTHER_ID}\tfrom a leaked thread\n", 1),
    ]
    lines = parse_log_events(events, GROUP)
    assert lines[1].request_id == OTHER_ID
    assert lines[1].request_id_inherited is False


def test_attach_request_ids_returns_new_lines() -> None:
    lines = [parse(f"START RequestId: {REQUEST_ID}\n"), parse("x\n", offset_ms=1)]
    attached = attach_request_ids(lines)
    assert lines[1].request_id is None
    assert attached[1].request_id == REQUEST_ID
