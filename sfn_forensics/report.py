"""The report: one plain data object that every output format renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sfn_forensics.checks.model import CheckOutcome, Finding, Verdict

SCHEMA_VERSION = 1

# Counts every report carries, null when unknown or not applicable.
COUNT_NAMES = (
    "batches_listed",
    "batches_polled",
    "chunks",
    "chunks_processed",
    "groups",
    "groups_merged",
    "group_merge_errors",
    "batches_marked_complete",
)


@dataclass
class MapSummary:
    """A Map state's iteration counts, summed over its visits."""

    state: str
    visits: int
    items: int | None
    started: int
    succeeded: int
    failed: int
    aborted: int

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "visits": self.visits,
            "items": self.items,
            "started": self.started,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "aborted": self.aborted,
        }


@dataclass
class Report:
    execution: dict[str, Any]
    workflow: dict[str, Any]
    counts: dict[str, int | None]
    count_details: dict[str, dict[str, Any]]
    maps: list[MapSummary]
    path: list[str]
    findings: list[Finding]
    checks: list[CheckOutcome]
    evidence_sources: dict[str, str]
    verdict: Verdict
    final_merge: dict[str, Any] | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    # Extra sections added by later analyses (embeddings, batch trail, logs, snapshot).
    sections: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "execution": {key: _plain(value) for key, value in self.execution.items()},
            "workflow": self.workflow,
            "verdict": self.verdict.to_json(),
            "counts": self.counts,
            "count_details": self.count_details,
            "maps": [summary.to_json() for summary in self.maps],
            "path": self.path,
            "final_merge": self.final_merge,
            "expected": self.expected,
            "findings": [finding.to_json() for finding in self.findings],
            "checks": [
                {"check": outcome.check, "status": outcome.status, "reason": outcome.reason}
                for outcome in self.checks
            ],
            "evidence_sources": self.evidence_sources,
        }
        data.update(self.sections)
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
