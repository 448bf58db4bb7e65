"""Parsed CloudWatch Logs lines, the signals found in them and their ties to state visits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# "start", "end", "report" and "timeout" are Lambda platform records. "metric" is an Embedded
# Metric Format record. Everything else, application output included, is a "message".
LineKind = Literal["start", "end", "report", "timeout", "message", "metric"]

SignalKind = Literal["data_loss", "error", "timeout", "memory"]

# Method that tied a line to a state visit, strongest first. See `correlate.correlate`.
TieMethod = Literal[
    "request_id",
    "execution_name_and_window",
    "execution_name_state_only",
    "window",
    "window_state_only",
]


@dataclass(frozen=True)
class LogLine:
    """One CloudWatch Logs event, classified.

    `timestamp` is the event's timestamp as CloudWatch Logs stored it (UTC). `raw` is the
    original message, unchanged. `fields` contains the keys of a structured (JSON) line that are
    not mapped to an attribute, or the extra keys of a platform record.
    """

    timestamp: datetime
    log_group: str
    log_stream: str
    event_id: str | None
    kind: LineKind
    # Upper-case level name with WARN mapped to WARNING and FATAL to CRITICAL, or None.
    level: str | None
    message: str
    request_id: str | None
    fields: dict[str, Any]
    raw: str
    # REPORT record values. Durations are in milliseconds, memory sizes in MB.
    duration_ms: float | None = None
    billed_ms: float | None = None
    memory_size_mb: int | None = None
    max_memory_mb: int | None = None
    init_ms: float | None = None
    # Metric name to value (a number or a list of numbers) of an Embedded Metric Format record.
    metrics: dict[str, Any] = field(default_factory=dict)
    # True when `request_id` came from the enclosing START..END records, not from the line.
    request_id_inherited: bool = False


@dataclass(frozen=True)
class LogSignal:
    """A log line that points at a problem: lost data, an error, a timeout or memory exhaustion.

    `numbers` contains the counts read from the line: `kept` (items processed), `total` (items
    available) and `lost` (items skipped, dropped or filtered), each only when the line states
    it or, for `lost`, when both `kept` and `total` are known.
    """

    kind: SignalKind
    line: LogLine
    reason: str
    numbers: dict[str, int] = field(default_factory=dict)
    # Name of the entry in the pattern table that matched, or of the field or metric read.
    pattern: str | None = None


@dataclass(frozen=True)
class TiedLine:
    """A log line with the state visit that produced it.

    `visit_entered_event_id` is the `entered_event_id` of the visit, or None when the line is
    tied only to a state (`method` "window_state_only") or not tied at all (`method` None).
    """

    line: LogLine
    state: str | None
    visit_entered_event_id: int | None
    method: TieMethod | None
    # The value from the visit's input or output that was also found in the invocation's lines,
    # when that value chose the visit among several overlapping ones.
    matched_value: str | None = None
