"""FilterLogEvents paging against the local moto server, and the execution window."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sfn_forensics.aws.cloudwatch_logs import PAGE_LIMIT, execution_window, fetch_log_events
from sfn_forensics.sandbox.server import MotoServer

pytestmark = pytest.mark.sandbox

LOG_GROUP = "/aws/lambda/test-fn"
STREAMS = ("2024/05/01/[$LATEST]aaaa", "2024/05/01/[$LATEST]bbbb")
EVENTS_PER_STREAM = 7_000
STEP_MS = 200
# Window bounds as offsets from the first event, chosen to fall exactly on events of the first
# stream so that both inclusive ends are checked.
WINDOW_START_OFFSET = 100_000
WINDOW_END_OFFSET = 1_300_000


def logs_client(endpoint_url: str) -> Any:
    # Credentials and region are passed here because module-scoped fixtures run before the
    # function-scoped fixture that sets the fake environment.
    return boto3.client(
        "logs",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class StagedLogs:
    def __init__(self, client: Any, base_ms: int) -> None:
        self.client = client
        self.base_ms = base_ms
        # (stream, timestamp, message) of every event put, in put order.
        self.events: list[tuple[str, int, str]] = []

    def expected(self, start_ms: int, end_ms: int) -> set[tuple[str, int, str]]:
        return {item for item in self.events if start_ms <= item[1] <= end_ms}


@pytest.fixture(scope="module")
def staged(moto_server: MotoServer) -> Iterator[StagedLogs]:
    client = logs_client(moto_server.endpoint_url)
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_log_group(logGroupName=LOG_GROUP)
    client.create_log_group(logGroupName=LOG_GROUP)
    # PutLogEvents rejects events older than 14 days, so the events sit in the last half hour.
    base_ms = int(time.time() * 1000) - 30 * 60 * 1000
    staged_logs = StagedLogs(client, base_ms)
    for stream_index, stream in enumerate(STREAMS):
        client.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        batch = []
        for index in range(EVENTS_PER_STREAM):
            timestamp = base_ms + stream_index * 50 + index * STEP_MS
            level = "WARNING" if index % 100 == 0 else "INFO"
            message = f"[{level}]\tevent {index} of stream {stream_index}\n"
            batch.append({"timestamp": timestamp, "message": message})
            staged_logs.events.append((stream, timestamp, message))
        # One call carries at most 10,000 events.
        client.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=batch)
    yield staged_logs
    client.delete_log_group(logGroupName=LOG_GROUP)


class CallRecorder:
    """Records the parameters of every FilterLogEvents call through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        client.meta.events.register(
            "provide-client-params.cloudwatch-logs.FilterLogEvents", self._record
        )

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(dict(params))


def window(staged: StagedLogs) -> tuple[int, int]:
    return staged.base_ms + WINDOW_START_OFFSET, staged.base_ms + WINDOW_END_OFFSET


def as_tuples(events: list[dict[str, Any]]) -> set[tuple[str, int, str]]:
    return {(item["logStreamName"], item["timestamp"], item["message"]) for item in events}


def test_fetch_returns_window_exactly(staged: StagedLogs, moto_server: MotoServer) -> None:
    start_ms, end_ms = window(staged)
    expected = staged.expected(start_ms, end_ms)
    client = logs_client(moto_server.endpoint_url)
    events = fetch_log_events(client, LOG_GROUP, start_ms, end_ms)
    assert len(expected) > PAGE_LIMIT
    assert len(expected) < len(staged.events)
    assert len(events) == len(expected)
    assert as_tuples(events) == expected


def test_fetch_includes_window_edges(staged: StagedLogs, moto_server: MotoServer) -> None:
    start_ms, end_ms = window(staged)
    events = fetch_log_events(logs_client(moto_server.endpoint_url), LOG_GROUP, start_ms, end_ms)
    timestamps = {item["timestamp"] for item in events}
    assert start_ms in timestamps
    assert end_ms in timestamps


def test_fetch_event_shape(staged: StagedLogs, moto_server: MotoServer) -> None:
    start_ms, end_ms = window(staged)
    events = fetch_log_events(logs_client(moto_server.endpoint_url), LOG_GROUP, start_ms, end_ms)
    assert set(events[0]) >= {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert len({item["eventId"] for item in events}) == len(events)


def test_fetch_pages_with_next_token(staged: StagedLogs, moto_server: MotoServer) -> None:
    client = logs_client(moto_server.endpoint_url)
    recorder = CallRecorder(client)
    start_ms, end_ms = window(staged)
    fetch_log_events(client, LOG_GROUP, start_ms, end_ms)
    assert len(recorder.calls) >= 2
    assert "nextToken" not in recorder.calls[0]
    assert all("nextToken" in call for call in recorder.calls[1:])


def test_fetch_cut_at_max_events(
    staged: StagedLogs, moto_server: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = logs_client(moto_server.endpoint_url)
    recorder = CallRecorder(client)
    start_ms, end_ms = window(staged)
    with caplog.at_level(logging.WARNING, logger="sfn_forensics.aws.cloudwatch_logs"):
        events = fetch_log_events(client, LOG_GROUP, start_ms, end_ms, max_events=10_500)
    assert len(events) == 10_500
    assert recorder.calls[0]["limit"] == PAGE_LIMIT
    assert all(call["limit"] <= PAGE_LIMIT for call in recorder.calls)
    assert "cut at 10500" in caplog.text


def test_fetch_exact_max_events_not_cut(
    staged: StagedLogs, moto_server: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    start_ms, end_ms = window(staged)
    expected = len(staged.expected(start_ms, end_ms))
    client = logs_client(moto_server.endpoint_url)
    with caplog.at_level(logging.WARNING, logger="sfn_forensics.aws.cloudwatch_logs"):
        events = fetch_log_events(client, LOG_GROUP, start_ms, end_ms, max_events=expected + 1)
    assert len(events) == expected
    assert "cut at" not in caplog.text


def test_fetch_narrow_window(staged: StagedLogs, moto_server: MotoServer) -> None:
    client = logs_client(moto_server.endpoint_url)
    start_ms = staged.base_ms
    end_ms = staged.base_ms + 10 * STEP_MS
    events = fetch_log_events(client, LOG_GROUP, start_ms, end_ms)
    assert as_tuples(events) == staged.expected(start_ms, end_ms)


def test_fetch_plain_term_filter(staged: StagedLogs, moto_server: MotoServer) -> None:
    start_ms, end_ms = window(staged)
    client = logs_client(moto_server.endpoint_url)
    events = fetch_log_events(client, LOG_GROUP, start_ms, end_ms, filter_pattern='"WARNING"')
    expected = {item for item in staged.expected(start_ms, end_ms) if "WARNING" in item[2]}
    assert as_tuples(events) == expected


def test_fetch_missing_group_raises(moto_server: MotoServer) -> None:
    client = logs_client(moto_server.endpoint_url)
    with pytest.raises(ClientError) as raised:
        fetch_log_events(client, "/aws/lambda/no-such-function", 0, 1)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_fetch_rejects_non_positive_max_events() -> None:
    with pytest.raises(ValueError, match="max_events"):
        fetch_log_events(ScriptedLogsClient([]), LOG_GROUP, 0, 1, max_events=0)


class ScriptedLogsClient:
    """Returns prepared FilterLogEvents pages in order and records each request."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = list(pages)
        self.requests: list[dict[str, Any]] = []

    def filter_log_events(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return self.pages.pop(0)


def scripted_event(index: int) -> dict[str, Any]:
    return {
        "logStreamName": "s",
        "timestamp": index,
        "message": f"m{index}",
        "ingestionTime": index,
        "eventId": str(index),
    }


def test_fetch_follows_empty_pages() -> None:
    # CloudWatch Logs may return an empty page with a nextToken while it searches on.
    client = ScriptedLogsClient(
        [
            {"events": [], "nextToken": "t1"},
            {"events": [scripted_event(1)], "nextToken": "t2"},
            {"events": [], "nextToken": "t3"},
            {"events": [scripted_event(2)]},
        ]
    )
    events = fetch_log_events(client, LOG_GROUP, 0, 10)
    assert [item["eventId"] for item in events] == ["1", "2"]
    assert [request.get("nextToken") for request in client.requests] == [None, "t1", "t2", "t3"]


def test_fetch_passes_window_and_pattern() -> None:
    client = ScriptedLogsClient([{"events": []}])
    fetch_log_events(client, LOG_GROUP, 5, 9, filter_pattern="WARNING")
    assert client.requests == [
        {
            "logGroupName": LOG_GROUP,
            "startTime": 5,
            "endTime": 9,
            "filterPattern": "WARNING",
            "limit": PAGE_LIMIT,
        }
    ]


def test_fetch_stops_on_repeated_token(caplog: pytest.LogCaptureFixture) -> None:
    client = ScriptedLogsClient(
        [
            {"events": [scripted_event(1)], "nextToken": "same"},
            {"events": [scripted_event(2)], "nextToken": "same"},
        ]
    )
    with caplog.at_level(logging.WARNING, logger="sfn_forensics.aws.cloudwatch_logs"):
        events = fetch_log_events(client, LOG_GROUP, 0, 10)
    assert len(events) == 2
    assert len(client.requests) == 2
    assert "token of an earlier page" in caplog.text


def test_execution_window_bounds() -> None:
    start = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    stop = datetime(2024, 5, 1, 10, 30, 0, 500000, tzinfo=UTC)
    start_ms, end_ms = execution_window(start, stop)
    assert start_ms == int(datetime(2024, 5, 1, 9, 59, tzinfo=UTC).timestamp()) * 1000
    assert end_ms == int(datetime(2024, 5, 1, 10, 35, tzinfo=UTC).timestamp()) * 1000 + 500


def test_execution_window_other_offset() -> None:
    start = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    start_ms, _ = execution_window(start, start)
    assert start_ms == int(datetime(2024, 5, 1, 9, 59, tzinfo=UTC).timestamp()) * 1000


def test_execution_window_naive_is_utc() -> None:
    start_ms, _ = execution_window(datetime(2024, 5, 1, 10, 0), datetime(2024, 5, 1, 10, 1))
    assert start_ms == int(datetime(2024, 5, 1, 9, 59, tzinfo=UTC).timestamp()) * 1000


def test_execution_window_running_execution() -> None:
    start = datetime.now(tz=UTC) - timedelta(hours=1)
    before_ms = int(time.time() * 1000)
    _, end_ms = execution_window(start, None)
    after_ms = int(time.time() * 1000)
    assert before_ms + 5 * 60 * 1000 <= end_ms <= after_ms + 5 * 60 * 1000
