"""Findings from log lines: skipped or truncated data, errors, timeouts and memory exhaustion."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec, Inconclusive
from sfn_forensics.checks.model import Finding, Severity

if TYPE_CHECKING:
    from sfn_forensics.facts.logs import LogFacts
    from sfn_forensics.logs.model import LogSignal, TiedLine

SPEC = CheckSpec(
    name="log_signals",
    description="Read the Lambda logs tied to this execution for lost data, errors and timeouts.",
    codes=(
        CodeSpec(
            "LOG_DATA_LOSS",
            "warning",
            "Log lines say data was skipped, truncated, filtered or limited; an error when the "
            "lines state how much was left out.",
        ),
        CodeSpec("LOG_ERRORS", "warning", "ERROR or CRITICAL log lines in a state's Lambda."),
        CodeSpec("LAMBDA_TIMEOUT", "warning", "A Lambda invocation timed out."),
        CodeSpec("LAMBDA_MEMORY_EXHAUSTED", "warning", "A Lambda used all its memory."),
    ),
    requires=("history", "logs"),
)

_EVIDENCE_LINES = 5
_CODES = {
    "data_loss": "LOG_DATA_LOSS",
    "error": "LOG_ERRORS",
    "timeout": "LAMBDA_TIMEOUT",
    "memory": "LAMBDA_MEMORY_EXHAUSTED",
}


def run(context: CheckContext) -> list[Finding]:
    log_facts: LogFacts | None = context.extras.get("logs")
    if log_facts is None:
        raise Inconclusive("no log events were read for this execution")
    grouped: dict[tuple[str, str | None], list[tuple[LogSignal, TiedLine]]] = defaultdict(list)
    for signal, tie in log_facts.signals:
        grouped[(signal.kind, tie.state)].append((signal, tie))

    findings = []
    for (kind, state), items in grouped.items():
        findings.append(_finding(kind, state, items))
    return findings


def _data_loss_steps(where: str, patterns: set[str | None]) -> list[str]:
    """Return next steps that fit the lines: items skipped, filtered or cut short."""
    if patterns & {"skipped", "filtered_out", "ignored_n", "discarded"}:
        first = (
            f"Find why {where} skipped these items (the lines name them), fix their input, "
            "and process them again."
        )
    else:
        first = (
            f"Read the code of {where}'s Lambda where it logs this, and remove the limit or "
            "process the rest in another pass."
        )
    return [first, "Rerun the affected items after the fix; the execution succeeded without them."]


def _finding(kind: str, state: str | None, items: list[tuple[LogSignal, TiedLine]]) -> Finding:
    from sfn_forensics.facts.logs import describe_line

    code = _CODES[kind]
    items = sorted(items, key=lambda item: item[1].line.timestamp)
    severity: Severity = "warning"
    lost_total = sum(signal.numbers.get("lost", 0) for signal, _ in items)
    if kind == "data_loss" and lost_total > 0:
        severity = "error"
    visits = {tie.visit_entered_event_id for _, tie in items if tie.visit_entered_event_id}
    where = state or "an unknown state"
    reason = items[0][0].reason
    title = {
        "data_loss": f"{len(items)} log line(s) in {where} say data was left out ({reason})",
        "error": f"{len(items)} ERROR line(s) in {where}",
        "timeout": f"{len(items)} Lambda timeout(s) in {where}",
        "memory": f"{len(items)} invocation(s) in {where} used all their memory",
    }[kind]
    evidence: dict[str, object] = {
        "lines": len(items),
        "visits": len(visits),
        "log_lines_shown": f"first {min(len(items), _EVIDENCE_LINES)} of {len(items)}",
        "log_lines": [
            {**describe_line(tie), "numbers": signal.numbers}
            for signal, tie in items[:_EVIDENCE_LINES]
        ],
    }
    if lost_total:
        evidence["items_left_out"] = lost_total
    next_steps = {
        "data_loss": _data_loss_steps(where, {signal.pattern for signal, _ in items}),
        "error": [f"Read the ERROR lines of {where}: forensics logs TARGET --level ERROR."],
        "timeout": [f"Raise {where}'s Lambda timeout or give it less work per invocation."],
        "memory": [f"Raise {where}'s Lambda memory size."],
    }[kind]
    return Finding(
        code=code,
        severity=severity,
        title=title,
        state=state,
        evidence=evidence,
        next_steps=next_steps,
    )
