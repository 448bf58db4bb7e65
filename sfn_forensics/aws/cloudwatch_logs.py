"""Read Lambda log events from CloudWatch Logs with FilterLogEvents.

Errors are not mapped here: botocore's ClientError and connection errors reach the caller, which
records the log source as unavailable.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

# FilterLogEvents returns at most 10,000 events (or 1 MB) per response.
PAGE_LIMIT = 10_000
# Margins around the execution. The minute before allows for clock differences between
# services. The five minutes after cover invocations still running when the execution stopped,
# because neither an aborted execution nor a task timeout stops a running Lambda invocation.
WINDOW_BEFORE = timedelta(minutes=1)
WINDOW_AFTER = timedelta(minutes=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fetch_log_events(
    client: Any,
    log_group: str,
    start_ms: int,
    end_ms: int,
    filter_pattern: str | None = None,
    max_events: int = 100_000,
) -> list[dict[str, Any]]:
    """Return the events of `log_group` timed from start_ms to end_ms, paging FilterLogEvents.

    Both ends are inclusive, as in FilterLogEvents. `client` is a boto3 CloudWatch Logs client.
    Events are returned as the API returns them (logStreamName, timestamp, message,
    ingestionTime, eventId). `filter_pattern` is passed to
    the server only to reduce the transfer: emulators ignore some pattern forms, so callers must
    filter the result themselves. At most `max_events` events are returned, and a warning is
    logged when more were available.
    """
    if max_events <= 0:
        raise ValueError(f"max_events must be positive, got {max_events}")
    request: dict[str, Any] = {"logGroupName": log_group, "startTime": start_ms, "endTime": end_ms}
    if filter_pattern:
        request["filterPattern"] = filter_pattern

    events: list[dict[str, Any]] = []
    seen_tokens: set[str] = set()
    pages = 0
    while True:
        request["limit"] = min(PAGE_LIMIT, max_events - len(events))
        response = client.filter_log_events(**request)
        pages += 1
        events.extend(response.get("events", []))
        token = response.get("nextToken")
        if not token:
            break
        if token in seen_tokens:
            log.warning(
                "FilterLogEvents on %s returned the token of an earlier page, so paging stopped "
                "after %d pages and %d events",
                log_group,
                pages,
                len(events),
            )
            break
        if len(events) >= max_events:
            # NOTE: only this warning records the cut. A caller that needs to know checks
            # whether len(result) == max_events.
            log.warning(
                "log events of %s cut at %d: more events exist between %d and %d. "
                "Raise max_events or narrow the window",
                log_group,
                max_events,
                start_ms,
                end_ms,
            )
            break
        seen_tokens.add(token)
        request["nextToken"] = token
    log.debug("read %d log events of %s in %d pages", len(events), log_group, pages)
    return events


def execution_window(start: datetime, stop: datetime | None) -> tuple[int, int]:
    """Return the (start, end) epoch milliseconds to search for an execution's log events.

    The window runs from one minute before `start` to five minutes after `stop`, or after now
    when the execution has not stopped. Naive datetimes are taken as UTC.
    """
    end = stop if stop is not None else datetime.now(tz=UTC)
    return _epoch_ms(start - WINDOW_BEFORE), _epoch_ms(end + WINDOW_AFTER)


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)
