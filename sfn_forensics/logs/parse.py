"""Classify CloudWatch Logs events written by Lambda functions into `LogLine` objects.

Formats recognised, in the order they are tried:

* JSON objects. These are Embedded Metric Format records (`_aws.CloudWatchMetrics`), Lambda
  platform records of the JSON log format (`{"time", "type": "platform.report", "record": {}}`),
  structured application lines and other JSON objects. Structured lines have `level` or
  `levelname` and `message` or `msg`, as the Lambda JSON log format, AWS Lambda Powertools and
  most JSON loggers write them.
* Lambda platform text records: `START RequestId: ...`, `END RequestId: ...`,
  `REPORT RequestId: ...`, `<time> <request id> Task timed out after N seconds` and
  `RequestId: <id> Error: ...`.
* The Python runtime's text format `[LEVEL]\\t<time>\\t<request id>\\t<message>` (and its
  uncaught exception form `[ERROR] Type: message`), the Node.js runtime's text format
  `<time>\\t<request id>\\t<LEVEL>\\t<message>`, and plain lines without a level.

Parsing never raises: input that fits no format becomes a plain message.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sfn_forensics.logs.model import LogLine

log = logging.getLogger(__name__)

EPOCH = datetime.fromtimestamp(0, tz=UTC)

# Level names as Python's logging module spells them. Node.js writes WARN and FATAL, Lambda's
# log-level settings use both spellings.
_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}
_TEXT_LEVELS = frozenset(
    {"TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL"}
)
# Numeric levels of pino and bunyan (Node.js JSON loggers).
_NUMERIC_LEVELS = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARNING", 50: "ERROR", 60: "CRITICAL"}

# Keys that carry the Lambda request id in structured lines: the Lambda JSON log format
# (`requestId`), Powertools (`function_request_id`), Java's JSON layout (`AWSRequestId`) and
# custom formatters (`aws_request_id`). A plain `request_id` key is left alone because
# applications use it for their own ids.
_REQUEST_ID_KEYS = ("requestId", "function_request_id", "AWSRequestId", "aws_request_id")
_LEVEL_KEYS = ("level", "levelname")
_MESSAGE_KEYS = ("message", "msg")

_START = re.compile(r"^START RequestId: (?P<id>\S+)(?:\s+Version: (?P<version>\S+))?")
_END = re.compile(r"^END RequestId: (?P<id>\S+)")
_REPORT = re.compile(r"^REPORT RequestId: (?P<id>\S+)")
# A REPORT record separates its fields with tabs, but copies pasted elsewhere often use spaces,
# so fields are found by name. The alternation lists longer names first.
_REPORT_NUMBER = re.compile(
    r"(?:^|\s)(?P<key>Billed Restore Duration|Restore Duration|Billed Duration|Init Duration"
    r"|Max Memory Used|Memory Size|Duration):\s*(?P<value>\d+(?:\.\d+)?)"
)
_REPORT_STATUS = re.compile(r"(?:^|\s)Status:\s*(?P<value>\S+)")
_REPORT_ERROR_TYPE = re.compile(r"(?:^|\s)Error Type:\s*(?P<value>\S+)")
_REPORT_TRACE_ID = re.compile(r"(?:^|\s)XRAY TraceId:\s*(?P<value>\S+)")
_TIMEOUT = re.compile(
    r"^(?:(?P<time>\d{4}-\d\d-\d\dT\S+)\s+(?P<id>[0-9A-Fa-f-]{8,})\s+)?"
    r"Task timed out after\s+(?P<seconds>\d+(?:\.\d+)?)\s+seconds"
)
# Written by the platform when the runtime process dies, for example when it runs out of memory:
# `RequestId: <id> Error: Runtime exited with error: signal: killed`.
_PLATFORM_ERROR = re.compile(
    r"^RequestId: (?P<id>\S+)\s+(?P<message>(?:Error: |Process exited before completing).*)$",
    re.DOTALL,
)
_PYTHON_TEXT = re.compile(r"^\[(?P<level>[A-Za-z]+)\]\s*(?P<rest>.*)$", re.DOTALL)
_PYTHON_TEXT_PREFIX = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT[\d:.]+Z?)\t(?P<id>[^\t]*)\t(?P<message>.*)$", re.DOTALL
)
_NODE_TEXT = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT[\d:.]+Z)\t(?P<id>[^\t]*)\t(?P<level>[A-Za-z]+)\t(?P<message>.*)$",
    re.DOTALL,
)


def parse_log_events(events: Iterable[Mapping[str, Any]], log_group: str) -> list[LogLine]:
    """Parse FilterLogEvents events of one log group and fill in inherited request ids."""
    return attach_request_ids([parse_log_event(event, log_group) for event in events])


def parse_log_event(event: Mapping[str, Any], log_group: str | None = None) -> LogLine:
    """Classify one FilterLogEvents event.

    `log_group` defaults to the event's `logGroupName` key, which FilterLogEvents leaves out.
    A line without its own request id keeps None here, and `attach_request_ids` fills it in.
    """
    raw_message = event.get("message")
    raw = (
        raw_message
        if isinstance(raw_message, str)
        else ("" if raw_message is None else str(raw_message))
    )
    group = log_group if log_group is not None else _text_or_empty(event.get("logGroupName"))
    event_id = event.get("eventId")
    base = LogLine(
        timestamp=_datetime_from_ms(event.get("timestamp")) or EPOCH,
        log_group=group,
        log_stream=_text_or_empty(event.get("logStreamName")),
        event_id=None if event_id is None else str(event_id),
        kind="message",
        level=None,
        message=raw.rstrip("\r\n"),
        request_id=None,
        fields={},
        raw=raw,
    )
    try:
        return _classify(base)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        log.debug("log event %s read as a plain message: %s", base.event_id, error)
        return base


def attach_request_ids(lines: Sequence[LogLine]) -> list[LogLine]:
    """Give lines without a request id the id of the invocation whose START..END encloses them.

    Lines are ordered by timestamp within each (log group, log stream), keeping the input order
    for equal timestamps, because one Lambda execution environment writes one stream and runs
    one invocation at a time. Lines before the first START (the init phase) or between an END
    and the next START keep None. The result is in the input order.
    """
    by_stream: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, line in enumerate(lines):
        by_stream[(line.log_group, line.log_stream)].append(index)

    result = list(lines)
    for indices in by_stream.values():
        indices.sort(key=lambda index: (lines[index].timestamp, index))
        current: str | None = None
        for index in indices:
            line = lines[index]
            if line.kind == "start":
                current = line.request_id
            elif line.kind == "end":
                current = None
            elif line.request_id is None and current is not None:
                result[index] = replace(line, request_id=current, request_id_inherited=True)
    return result


def normalise_level(value: Any) -> str | None:
    """Return a level name in upper case (WARN as WARNING, FATAL as CRITICAL), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _NUMERIC_LEVELS.get(value)
    if not isinstance(value, str):
        return None
    name = value.strip().upper()
    if not name.isalpha() or len(name) > 16:
        return None
    return _LEVEL_ALIASES.get(name, name)


def _classify(base: LogLine) -> LogLine:
    text = base.message.strip()
    if text.startswith("{"):
        record = _json_object(text)
        if record is not None:
            return _from_json(base, record)

    platform = _from_platform_text(base, text)
    if platform is not None:
        return platform

    return _from_runtime_text(base, text)


def _from_platform_text(base: LogLine, text: str) -> LogLine | None:
    """Read a Lambda platform record of the text log format, or return None."""
    if text.startswith("START RequestId:"):
        return _from_start(base, text)
    if text.startswith("END RequestId:"):
        return _from_end(base, text)
    if text.startswith("REPORT RequestId:"):
        return _from_report(base, text)

    timeout = _TIMEOUT.match(text)
    if timeout:
        return replace(
            base,
            kind="timeout",
            request_id=timeout["id"],
            fields={"timeout_seconds": float(timeout["seconds"])},
            timestamp=_fallback_time(base, timeout["time"]),
        )

    platform_error = _PLATFORM_ERROR.match(text)
    if platform_error:
        return replace(
            base, level="ERROR", request_id=platform_error["id"], message=platform_error["message"]
        )
    return None


def _from_runtime_text(base: LogLine, text: str) -> LogLine:
    """Read the level and request id of a Python or Node.js runtime text line, if it has them."""
    python_text = _PYTHON_TEXT.match(text)
    if python_text and python_text["level"].upper() in _TEXT_LEVELS:
        return _from_python_text(base, python_text["level"], python_text["rest"])

    node_text = _NODE_TEXT.match(text)
    if node_text and node_text["level"].upper() in _TEXT_LEVELS:
        return _with_embedded_json(
            replace(
                base,
                level=normalise_level(node_text["level"]),
                request_id=node_text["id"] or None,
                message=node_text["message"],
                timestamp=_fallback_time(base, node_text["time"]),
            )
        )
    return base


def _from_start(base: LogLine, text: str) -> LogLine:
    match = _START.match(text)
    if match is None:
        return base
    fields = {"version": match["version"]} if match["version"] else {}
    return replace(base, kind="start", request_id=match["id"], fields=fields)


def _from_end(base: LogLine, text: str) -> LogLine:
    match = _END.match(text)
    if match is None:
        return base
    return replace(base, kind="end", request_id=match["id"])


def _from_report(base: LogLine, text: str) -> LogLine:
    match = _REPORT.match(text)
    if match is None:
        return base
    numbers = {found["key"]: float(found["value"]) for found in _REPORT_NUMBER.finditer(text)}
    fields: dict[str, Any] = {}
    if "Restore Duration" in numbers:
        fields["restore_duration_ms"] = numbers["Restore Duration"]
    if "Billed Restore Duration" in numbers:
        fields["billed_restore_duration_ms"] = numbers["Billed Restore Duration"]
    for pattern, key in (
        (_REPORT_STATUS, "status"),
        (_REPORT_ERROR_TYPE, "error_type"),
        (_REPORT_TRACE_ID, "xray_trace_id"),
    ):
        found = pattern.search(text)
        if found:
            fields[key] = found["value"]
    return replace(
        base,
        kind="report",
        request_id=match["id"],
        fields=fields,
        duration_ms=numbers.get("Duration"),
        billed_ms=numbers.get("Billed Duration"),
        memory_size_mb=_int_or_none(numbers.get("Memory Size")),
        max_memory_mb=_int_or_none(numbers.get("Max Memory Used")),
        init_ms=numbers.get("Init Duration"),
    )


def _from_python_text(base: LogLine, level: str, rest: str) -> LogLine:
    prefix = _PYTHON_TEXT_PREFIX.match(rest)
    if prefix is None:
        # The runtime's report of an uncaught exception: `[ERROR] KeyError: 'x'` followed by
        # the traceback, with no time or request id.
        return replace(base, level=normalise_level(level), message=rest)
    line = replace(
        base,
        level=normalise_level(level),
        request_id=prefix["id"].strip() or None,
        message=prefix["message"],
        timestamp=_fallback_time(base, prefix["time"]),
    )
    return _with_embedded_json(line)


def _with_embedded_json(line: LogLine) -> LogLine:
    """Read the fields of a JSON object logged as the message of a text-format line."""
    text = line.message.strip()
    if not text.startswith("{"):
        return line
    record = _json_object(text)
    if record is None:
        return line
    message = _first_present(record, _MESSAGE_KEYS)
    fields = {key: value for key, value in record.items() if key not in _MESSAGE_KEYS}
    return replace(
        line,
        message=line.message if message is None else _message_text(message),
        fields=fields,
    )


def _from_json(base: LogLine, record: dict[str, Any]) -> LogLine:
    aws = record.get("_aws")
    if isinstance(aws, dict) and "CloudWatchMetrics" in aws:
        return _from_metric(base, record, aws)
    record_type = record.get("type")
    if isinstance(record_type, str) and record_type.startswith("platform."):
        return _from_platform_json(base, record, record_type)
    return _from_structured(base, record)


def _from_metric(base: LogLine, record: dict[str, Any], aws: dict[str, Any]) -> LogLine:
    names: list[str] = []
    directives = aws.get("CloudWatchMetrics")
    for directive in directives if isinstance(directives, list) else []:
        metrics = directive.get("Metrics") if isinstance(directive, dict) else None
        for metric in metrics if isinstance(metrics, list) else []:
            name = metric.get("Name") if isinstance(metric, dict) else None
            if isinstance(name, str):
                names.append(name)
    values = {name: record[name] for name in names if _is_metric_value(record.get(name))}
    request_key = _first_key(record, _REQUEST_ID_KEYS)
    fields = {
        key: value
        for key, value in record.items()
        if key != "_aws" and key not in values and key != request_key
    }
    return replace(
        base,
        kind="metric",
        message="",
        metrics=values,
        fields=fields,
        request_id=_request_id(record, request_key),
        timestamp=_fallback_ms(base, aws.get("Timestamp")),
    )


def _from_platform_json(base: LogLine, record: dict[str, Any], record_type: str) -> LogLine:
    body = record.get("record")
    body = body if isinstance(body, dict) else {}
    request_id = body.get("requestId")
    request_id = request_id if isinstance(request_id, str) and request_id else None
    timestamp = _fallback_time(base, record.get("time"))
    extra = {key: value for key, value in body.items() if key not in ("requestId", "metrics")}
    line = replace(base, request_id=request_id, timestamp=timestamp, fields=extra)
    if record_type == "platform.start":
        return replace(line, kind="start")
    if record_type == "platform.end":
        return replace(line, kind="end")
    if record_type != "platform.report":
        # platform.initStart, platform.runtimeDone and the like: kept as messages.
        return replace(line, message=record_type)
    metrics = body.get("metrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    fields = dict(extra)
    if "errorType" in fields:
        fields["error_type"] = fields.pop("errorType")
    return replace(
        line,
        kind="report",
        fields=fields,
        duration_ms=_float_or_none(metrics.get("durationMs")),
        billed_ms=_float_or_none(metrics.get("billedDurationMs")),
        memory_size_mb=_int_or_none(metrics.get("memorySizeMB")),
        max_memory_mb=_int_or_none(metrics.get("maxMemoryUsedMB")),
        init_ms=_float_or_none(metrics.get("initDurationMs")),
    )


def _from_structured(base: LogLine, record: dict[str, Any]) -> LogLine:
    level_key = _first_key(record, _LEVEL_KEYS)
    message_key = _first_key(record, _MESSAGE_KEYS)
    request_key = _first_key(record, _REQUEST_ID_KEYS)
    used = {level_key, message_key, request_key}
    fields = {key: value for key, value in record.items() if key not in used}
    message = base.message if message_key is None else _message_text(record[message_key])
    timestamp = _fallback_time(base, record.get("timestamp"))
    return replace(
        base,
        level=None if level_key is None else normalise_level(record[level_key]),
        message=message,
        request_id=_request_id(record, request_key),
        fields=fields,
        timestamp=timestamp,
    )


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _first_key(record: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        if key in record:
            return key
    return None


def _first_present(record: Mapping[str, Any], keys: Iterable[str]) -> Any:
    key = _first_key(record, keys)
    return None if key is None else record[key]


def _request_id(record: Mapping[str, Any], key: str | None) -> str | None:
    if key is None:
        return None
    value = record[key]
    return value if isinstance(value, str) and value else None


def _message_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        return str(value)


def _is_metric_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, list) and all(
        isinstance(item, int | float) and not isinstance(item, bool) for item in value
    )


def _text_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int_or_none(value: Any) -> int | None:
    number = _float_or_none(value)
    return None if number is None else int(number)


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _datetime_from_ms(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(",", "."))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _fallback_time(base: LogLine, text: Any) -> datetime:
    """Keep the event's timestamp, or use the one written in the line when the event had none."""
    if base.timestamp != EPOCH:
        return base.timestamp
    return _parse_iso(text) or base.timestamp


def _fallback_ms(base: LogLine, value: Any) -> datetime:
    if base.timestamp != EPOCH:
        return base.timestamp
    return _datetime_from_ms(value) or base.timestamp
