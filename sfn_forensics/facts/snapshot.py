"""The snapshot listing checked against its `.snapshot_hash` and object metadata."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sfn_forensics.evidence.model import Evidence
from sfn_forensics.snapshot.model import SnapshotReport

log = logging.getLogger(__name__)


@dataclass
class SnapshotFacts:
    bucket: str
    prefix: str
    origin: str
    from_pointer: bool
    report: SnapshotReport
    hash_error: str | None = None
    # Embeddings per collection counted with Chroma's client, when the snapshot was verified.
    verified_counts: dict[str, int] | None = None
    verify_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verified_total(self) -> int | None:
        if self.verified_counts is None:
            return None
        return sum(self.verified_counts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "origin": self.origin,
            "from_pointer": self.from_pointer,
            "report": self.report.to_json(),
            "hash_error": self.hash_error,
            "verified_counts": self.verified_counts,
            "verified_total": self.verified_total,
            "verify_error": self.verify_error,
        }


def snapshot_facts(evidence: Evidence) -> SnapshotFacts | None:
    snapshot = evidence.snapshot
    if snapshot is None or not snapshot.objects:
        return None
    from sfn_forensics.snapshot.inspect import check_snapshot_listing
    from sfn_forensics.snapshot.model import SnapshotHashError, parse_snapshot_hash

    parsed = None
    hash_error = None
    if snapshot.hash_text is not None:
        try:
            parsed = parse_snapshot_hash(snapshot.hash_text)
        except SnapshotHashError as error:
            hash_error = str(error)
    report = check_snapshot_listing(snapshot.prefix, snapshot.objects, parsed, snapshot.metadata)
    return SnapshotFacts(
        bucket=snapshot.bucket,
        prefix=snapshot.prefix,
        origin=snapshot.origin,
        from_pointer=snapshot.pointer_text is not None,
        report=report,
        hash_error=hash_error,
        verified_counts=snapshot.verified_counts,
        verify_error=snapshot.verify_error,
    )
