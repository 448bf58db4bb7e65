"""Parse the fetched Lambda log events, tie them to state visits, and find problem signals."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sfn_forensics.evidence.model import Evidence
from sfn_forensics.history.model import ExecutionRun
from sfn_forensics.logs.model import LogLine, LogSignal, TiedLine

# Ties that name this execution for certain; time-window ties may belong to a concurrent one.
STRONG_TIES = frozenset({"request_id", "execution_name_and_window", "execution_name_state_only"})


@dataclass
class LogFacts:
    lines: list[LogLine]
    ties: list[TiedLine]
    # Signals from lines tied to this execution, each with its tie.
    signals: list[tuple[LogSignal, TiedLine]]
    methods: dict[str, int] = field(default_factory=dict)
    untied: int = 0

    def ties_for_states(self, states: set[str], strong_only: bool) -> list[TiedLine]:
        return [
            tie
            for tie in self.ties
            if tie.state in states and (not strong_only or tie.method in STRONG_TIES)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": len(self.lines),
            "tied_by": self.methods,
            "untied": self.untied,
            "signals": len(self.signals),
        }


def analyze_logs(evidence: Evidence, run: ExecutionRun) -> LogFacts | None:
    """Return the tied lines and signals, or None when no log events were fetched."""
    if not evidence.log_events:
        return None
    from sfn_forensics.logs import attach_request_ids, correlate, find_signals, parse_log_events

    lines: list[LogLine] = []
    for group, events in evidence.log_events.items():
        lines.extend(attach_request_ids(parse_log_events(events, group)))
    function_states = {plan.log_group: list(plan.states) for plan in evidence.log_plan}
    ties = correlate(lines, run.visits, evidence.execution_name, function_states)
    tie_by_line = {id(tie.line): tie for tie in ties}

    signals: list[tuple[LogSignal, TiedLine]] = []
    for signal in find_signals(lines):
        tie = tie_by_line.get(id(signal.line))
        if tie is not None and tie.method in STRONG_TIES:
            signals.append((signal, tie))
    methods: Counter[str] = Counter(str(tie.method) for tie in ties if tie.method is not None)
    return LogFacts(
        lines=lines,
        ties=ties,
        signals=signals,
        methods=dict(methods),
        untied=sum(1 for tie in ties if tie.method is None),
    )


def describe_line(tie: TiedLine) -> dict[str, Any]:
    """Return a log line as finding evidence: its group, stream, time, tie and message."""
    line = tie.line
    return {
        "log_group": line.log_group,
        "log_stream": line.log_stream,
        "timestamp": line.timestamp.isoformat(),
        "request_id": line.request_id,
        "state": tie.state,
        "visit_entered_event_id": tie.visit_entered_event_id,
        "tied_by": tie.method,
        "level": line.level,
        "message": line.message,
    }
