"""Lambda log lines: parsing, problem signals and ties to the state visits that wrote them."""

from sfn_forensics.logs.correlate import correlate
from sfn_forensics.logs.model import LineKind, LogLine, LogSignal, SignalKind, TiedLine, TieMethod
from sfn_forensics.logs.parse import (
    attach_request_ids,
    normalise_level,
    parse_log_event,
    parse_log_events,
)
from sfn_forensics.logs.signals import LOSS_PATTERNS, LossPattern, find_data_loss, find_signals

__all__ = [
    "LOSS_PATTERNS",
    "LineKind",
    "LogLine",
    "LogSignal",
    "LossPattern",
    "SignalKind",
    "TieMethod",
    "TiedLine",
    "attach_request_ids",
    "correlate",
    "find_data_loss",
    "find_signals",
    "normalise_level",
    "parse_log_event",
    "parse_log_events",
]
