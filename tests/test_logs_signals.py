"""Signals found in parsed log lines: data loss, errors, timeouts, memory exhaustion."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sfn_forensics.logs.model import LogLine
from sfn_forensics.logs.parse import parse_log_event, parse_log_events
from sfn_forensics.logs.signals import LOSS_PATTERNS, find_data_loss, find_signals

GROUP = "/aws/lambda/merge"
REQUEST_ID = "8f5a1b2c-1111-2222-3333-444455556666"
BASE_MS = 1_714_557_600_000


def line_of(message: str, offset_ms: int = 0) -> LogLine:
    event = {"logStreamName": "s", "timestamp": BASE_MS + offset_ms, "message": message}
    return parse_log_event(event, GROUP)


def warning(text: str) -> LogLine:
    return line_of(f"[WARNING]\t2024-05-01T10:00:00.123Z\t{REQUEST_ID}\t{text}\n")


def structured(**record: Any) -> LogLine:
    return line_of(json.dumps({"level": "INFO", "message": "merge finished", **record}))


def metric_line(**values: Any) -> LogLine:
    record = {
        "_aws": {
            "Timestamp": BASE_MS,
            "CloudWatchMetrics": [
                {
                    "Namespace": "ingest",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": name} for name in values],
                }
            ],
        },
        "service": "merge",
        **values,
    }
    return line_of(json.dumps(record))


def report(memory_size: int, max_used: int, extra: str = "") -> LogLine:
    return line_of(
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 10.00 ms\tBilled Duration: 10 ms\t"
        f"Memory Size: {memory_size} MB\tMax Memory Used: {max_used} MB\t{extra}\n"
    )


@pytest.mark.parametrize(
    ("text", "pattern", "numbers"),
    [
        (
            "Group has 20 chunks, processing first 10",
            "first_n",
            {"kept": 10, "total": 20, "lost": 10},
        ),
        ("processed only the first 10 chunks", "first_n", {"kept": 10}),
        ("Merging the first 10 chunks of 25", "first_n", {"kept": 10, "total": 25, "lost": 15}),
        ("Processed only 10 of 20 chunks", "only_n_of_m", {"kept": 10, "total": 20, "lost": 10}),
        ("only 3 chunks out of 8 were merged", "only_n_of_m", {"kept": 3, "total": 8, "lost": 5}),
        (
            "Results limited to 10 items (received 20)",
            "limited_to_n",
            {"kept": 10, "total": 20, "lost": 10},
        ),
        ("Batch size capped at 100", "capped_at_n", {"kept": 100}),
        ("Skipping invalid S3 reference s3://bucket/key", "skipped", {}),
        ("SKIPPED 3 records with empty text", "skipped", {"lost": 3}),
        ("5 records were skipped", "skipped", {"lost": 5}),
        ("Skipped 3 of 20 items", "skipped", {"lost": 3, "total": 20}),
        ("Response truncated at 256 KB", "truncated", {}),
        ("Filtering out error response for custom_id=req-3", "filtered_out", {}),
        ("filtered out 4 rows", "filtered_out", {"lost": 4}),
        ("Dropped 3 duplicate records", "dropped", {"lost": 3}),
        ("Ignoring 2 records without embedding", "ignored_n", {"lost": 2}),
        ("Discarding stale batch b-7", "discarded", {}),
    ],
)
def test_data_loss_matches(text: str, pattern: str, numbers: dict[str, int]) -> None:
    signal = find_data_loss(warning(text))
    assert signal is not None
    assert signal.kind == "data_loss"
    assert signal.pattern == pattern
    assert signal.numbers == numbers
    assert signal.reason


@pytest.mark.parametrize(
    "text",
    [
        "Applying filter to 20 items",
        "filter expression: status = 'ok'",
        "Loaded the filter configuration",
        "skip_empty=True",
        "Rate limit reached, retrying in 2 s",
        "Limit exceeded for account",
        "Processing chunk 3 of 20",
        "The first 10 chunks are ready",
        "Ignoring case in key comparison",
        "Found 3 references",
        "0 records skipped",
        "No records were dropped",
        "Nothing was truncated",
        "truncated: false",
        "truncated=False",
        "Skipped 0 items",
        "Group has 10 chunks, processing first 10",
        "Group has 5 chunks, processing first 10",
        "only 20 of 20 chunks needed a retry",
        "Dropped connection to Redis, reconnecting",
        "dropping the session after the request",
    ],
)
def test_data_loss_rejects(text: str) -> None:
    assert find_data_loss(warning(text)) is None


def test_data_loss_in_structured_message() -> None:
    line = line_of(json.dumps({"level": "WARNING", "message": "processing first 10", "total": 20}))
    signal = find_data_loss(line)
    assert signal is not None
    assert signal.numbers == {"kept": 10}


@pytest.mark.parametrize(
    ("fields", "key", "numbers"),
    [
        ({"truncated": True}, "truncated", {}),
        ({"is_truncated": True}, "is_truncated", {}),
        ({"skipped_count": 3}, "skipped_count", {"lost": 3}),
        ({"droppedRecords": 2}, "droppedRecords", {"lost": 2}),
        ({"skipped_keys": ["a", "b"]}, "skipped_keys", {"lost": 2}),
        ({"filtered_out": 4}, "filtered_out", {"lost": 4}),
    ],
)
def test_data_loss_from_fields(fields: dict[str, Any], key: str, numbers: dict[str, int]) -> None:
    signal = find_data_loss(structured(**fields))
    assert signal is not None
    assert signal.pattern == f"field:{key}"
    assert signal.numbers == numbers


@pytest.mark.parametrize(
    "fields",
    [
        {"truncated": False},
        {"skipped_count": 0},
        {"skipped_keys": []},
        {"skip_reason": "empty"},
        {"filter_count": 3},
        {"filtered": 3},
        {"chunk_count": 20},
    ],
)
def test_data_loss_fields_rejects(fields: dict[str, Any]) -> None:
    assert find_data_loss(structured(**fields)) is None


def test_data_loss_from_metric() -> None:
    signal = find_data_loss(metric_line(SkippedChunks=10, ChunksMerged=10))
    assert signal is not None
    assert signal.pattern == "metric:SkippedChunks"
    assert signal.numbers == {"lost": 10}


def test_data_loss_from_metric_samples() -> None:
    signal = find_data_loss(metric_line(DroppedRecords=[0, 2, 3]))
    assert signal is not None
    assert signal.numbers == {"lost": 5}


@pytest.mark.parametrize(
    "values",
    [{"SkippedChunks": 0}, {"ChunksMerged": 10}, {"DroppedRecords": [0, 0]}],
)
def test_data_loss_metric_rejects(values: dict[str, Any]) -> None:
    assert find_data_loss(metric_line(**values)) is None


def test_data_loss_ignores_platform_records() -> None:
    lines = [
        line_of(f"START RequestId: {REQUEST_ID} Version: $LATEST\n"),
        report(1024, 80),
        line_of(f"END RequestId: {REQUEST_ID}\n"),
    ]
    assert [find_data_loss(line) for line in lines] == [None, None, None]


def test_loss_pattern_names_unique() -> None:
    names = [pattern.name for pattern in LOSS_PATTERNS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("level", ["ERROR", "CRITICAL", "FATAL"])
def test_signals_error_levels(level: str) -> None:
    signals = find_signals([line_of(f"[{level}]\t2024-05-01T10:00:00.123Z\t{REQUEST_ID}\tboom\n")])
    assert [signal.kind for signal in signals] == ["error"]


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING"])
def test_signals_no_error_below_error(level: str) -> None:
    line = line_of(f"[{level}]\t2024-05-01T10:00:00.123Z\t{REQUEST_ID}\tall good\n")
    assert find_signals([line]) == []


def test_signals_error_and_loss_on_one_line() -> None:
    line = line_of(f"[ERROR]\t2024-05-01T10:00:00.123Z\t{REQUEST_ID}\tSkipping chunk 3: bad JSON\n")
    kinds = [signal.kind for signal in find_signals([line])]
    assert kinds == ["data_loss", "error"]


def test_signals_timeout_line() -> None:
    line = line_of(f"2024-05-01T10:15:00.222Z {REQUEST_ID} Task timed out after 900.10 seconds")
    signals = find_signals([line])
    assert [signal.kind for signal in signals] == ["timeout"]
    assert signals[0].reason == "Lambda invocation timed out after 900.10 seconds"


def test_signals_timeout_once_per_invocation() -> None:
    lines = [
        report(128, 60, "Status: timeout\t"),
        line_of(f"2024-05-01T10:15:00.222Z {REQUEST_ID} Task timed out after 3.00 seconds", 1),
    ]
    assert [signal.kind for signal in find_signals(lines)] == ["timeout"]


def test_signals_timeout_from_report_status() -> None:
    signals = find_signals([report(128, 60, "Status: timeout\t")])
    assert [signal.kind for signal in signals] == ["timeout"]


def test_signals_memory_full() -> None:
    signals = find_signals([report(256, 256)])
    assert [signal.kind for signal in signals] == ["memory"]
    assert signals[0].numbers == {"max_memory_mb": 256, "memory_size_mb": 256}


def test_signals_memory_below_size() -> None:
    assert find_signals([report(256, 255)]) == []


def test_signals_memory_out_of_memory_error_type() -> None:
    signals = find_signals([report(256, 240, "Status: error\tError Type: Runtime.OutOfMemory\t")])
    assert [signal.kind for signal in signals] == ["memory"]


def test_signals_keep_line_and_order() -> None:
    events = [
        {"logStreamName": "s", "timestamp": BASE_MS, "message": f"START RequestId: {REQUEST_ID}\n"},
        {
            "logStreamName": "s",
            "timestamp": BASE_MS + 1,
            "message": "Skipping invalid S3 reference\n",
        },
        {
            "logStreamName": "s",
            "timestamp": BASE_MS + 2,
            "message": "Group has 20 chunks, processing first 10\n",
        },
        {
            "logStreamName": "s",
            "timestamp": BASE_MS + 3,
            "message": f"END RequestId: {REQUEST_ID}\n",
        },
    ]
    lines = parse_log_events(events, GROUP)
    signals = find_signals(lines)
    assert [signal.line for signal in signals] == [lines[1], lines[2]]
    assert all(signal.line.request_id == REQUEST_ID for signal in signals)
