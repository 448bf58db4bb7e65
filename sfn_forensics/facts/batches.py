"""The batch trail: poll_results.json summarised and reconciled with the history's batch ids."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sfn_forensics.evidence.model import SOURCE_POLL_RESULTS, Evidence, SourceStatus
from sfn_forensics.pollresults.summary import BatchTrail, PollResultsSummary
from sfn_forensics.profiles.engine import ProfileFacts

log = logging.getLogger(__name__)


@dataclass
class BatchFacts:
    summary: PollResultsSummary | None
    trail: BatchTrail
    location: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "summary": self.summary.to_json() if self.summary else None,
            "trail": self.trail.to_json(),
        }


def summarize_poll_results(evidence: Evidence) -> PollResultsSummary | None:
    """Stream poll_results.json from the evidence; record a malformed file as unavailable."""
    obj = evidence.s3_objects.get(SOURCE_POLL_RESULTS)
    if obj is None or obj.body_file is None:
        return None
    from sfn_forensics.pollresults.reader import PollResultsFormatError, iter_poll_results
    from sfn_forensics.pollresults.summary import summarize

    obj.body_file.seek(0)
    try:
        return summarize(iter_poll_results(obj.body_file))
    except PollResultsFormatError as error:
        log.warning("s3://%s/%s is not a valid poll results array: %s", obj.bucket, obj.key, error)
        evidence.sources[SOURCE_POLL_RESULTS] = SourceStatus.unavailable(
            f"s3://{obj.bucket}/{obj.key} is not a valid JSON array: {error}"
        )
        return None


def batch_facts(
    evidence: Evidence, facts: ProfileFacts | None, summary: PollResultsSummary | None
) -> BatchFacts:
    from sfn_forensics.pollresults.summary import reconcile_trail

    def ids(value_name: str) -> set[str] | None:
        if facts is None:
            return None
        value = facts.value(value_name)
        if not isinstance(value, list):
            return None
        return {str(item) for item in value if item is not None}

    reasons: dict[str, str] = {}
    for step, value_name in (
        ("listed", "batch_ids_listed"),
        ("polled", "batch_ids_polled"),
        ("marked_complete", "batch_ids_marked"),
    ):
        observed = facts.values.get(value_name) if facts else None
        if observed is not None and observed.reason:
            reasons[step] = observed.reason
    poll_status = evidence.sources.get(SOURCE_POLL_RESULTS)
    if summary is None and poll_status is not None and not poll_status.ok:
        reasons["in_poll_results"] = f"poll_results {poll_status.describe()}"
        reasons["processed"] = reasons["in_poll_results"]
    trail = reconcile_trail(
        [
            ("listed", ids("batch_ids_listed")),
            ("polled", ids("batch_ids_polled")),
            ("in_poll_results", summary.batch_ids if summary else None),
            ("processed", summary.processed_batch_ids if summary else None),
            ("marked_complete", ids("batch_ids_marked")),
        ],
        reasons,
    )
    obj = evidence.s3_objects.get(SOURCE_POLL_RESULTS)
    location = f"s3://{obj.bucket}/{obj.key}" if obj else None
    return BatchFacts(summary=summary, trail=trail, location=location)
