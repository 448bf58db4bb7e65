"""Findings and the verdict computed from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
VerdictStatus = Literal["healthy", "degraded", "failed", "inconclusive"]


@dataclass
class Finding:
    """One conclusion of a check, with the evidence behind it.

    `evidence` is a mapping of plain JSON values: event ids, log lines, S3 keys, counts.
    """

    code: str
    severity: Severity
    title: str
    state: str | None
    evidence: dict[str, Any] = field(default_factory=dict)
    next_steps: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "state": self.state,
            "evidence": self.evidence,
            "next_steps": self.next_steps,
        }


@dataclass
class CheckOutcome:
    """A check that could not decide, because evidence it needs is unavailable."""

    check: str
    status: Literal["ran", "inconclusive", "not_applicable"]
    reason: str | None = None


@dataclass
class Verdict:
    status: VerdictStatus
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "summary": self.summary}
