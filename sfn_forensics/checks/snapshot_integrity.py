"""The snapshot in S3 against its own `.snapshot_hash`, object metadata and the final merge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec, Inconclusive
from sfn_forensics.checks.model import Finding

if TYPE_CHECKING:
    from sfn_forensics.facts.snapshot import SnapshotFacts

SPEC = CheckSpec(
    name="snapshot_integrity",
    description="Check the snapshot's files against .snapshot_hash and its object metadata.",
    codes=(
        CodeSpec(
            "SNAPSHOT_INCONSISTENT",
            "error",
            "The snapshot's listing disagrees with its .snapshot_hash or its object metadata.",
        ),
        CodeSpec(
            "SNAPSHOT_FROM_POINTER",
            "info",
            "The snapshot was found through latest-pointer.txt, which may have moved since the "
            "execution.",
        ),
    ),
    requires=("history", "snapshot"),
    needs_profile=True,
)


def run(context: CheckContext) -> list[Finding]:
    snapshot: SnapshotFacts | None = context.extras.get("snapshot")
    if snapshot is None:
        raise Inconclusive("the snapshot could not be listed")
    findings: list[Finding] = []
    location = f"s3://{snapshot.bucket}/{snapshot.prefix}"
    report = snapshot.report
    problems = [mismatch.to_json() for mismatch in report.mismatches]
    if snapshot.hash_error:
        problems.append({"field": ".snapshot_hash", "detail": snapshot.hash_error})
    if problems:
        findings.append(
            Finding(
                code="SNAPSHOT_INCONSISTENT",
                severity="error",
                title=f"Snapshot {snapshot.prefix} is inconsistent ({len(problems)} problem(s))",
                state=context.facts.profile.role("final_merge") if context.facts else None,
                evidence={"s3_prefix": location, "problems": problems[:10]},
                next_steps=[
                    "Compare the listed files with .snapshot_hash; an upload may have been cut "
                    "short. Re-run the final merge to write a complete snapshot.",
                ],
            )
        )
    if snapshot.from_pointer:
        findings.append(
            Finding(
                code="SNAPSHOT_FROM_POINTER",
                severity="info",
                title="Snapshot located through latest-pointer.txt, not the final merge result",
                state=None,
                evidence={"s3_prefix": location, "origin": snapshot.origin},
                next_steps=[
                    "Confirm the pointer has not moved since the execution before trusting the "
                    "snapshot counts.",
                ],
            )
        )
    return findings
