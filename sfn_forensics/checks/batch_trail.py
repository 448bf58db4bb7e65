"""The batch trail: batches listed, polled, in poll_results.json, processed, marked complete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec, Inconclusive
from sfn_forensics.checks.model import Finding

if TYPE_CHECKING:
    from sfn_forensics.facts.batches import BatchFacts

SPEC = CheckSpec(
    name="batch_trail",
    description="Follow every batch id from the batch list to poll_results.json and completion.",
    codes=(
        CodeSpec(
            "POLL_RESULTS_INCOMPLETE",
            "error",
            "poll_results.json has no entry for batches that were polled; their results were "
            "never merged.",
        ),
        CodeSpec(
            "BATCHES_MARKED_NOT_PROCESSED",
            "error",
            "Batches were marked complete although poll_results.json shows no processed results "
            "for them.",
        ),
        CodeSpec(
            "POLL_RESULTS_DUPLICATES",
            "warning",
            "poll_results.json lists the same batch id more than once.",
        ),
    ),
    requires=("history", "poll_results"),
    needs_profile=True,
)


def run(context: CheckContext) -> list[Finding]:
    batches: BatchFacts | None = context.extras.get("batches")
    if batches is None or batches.summary is None:
        raise Inconclusive("poll_results.json could not be read")
    findings: list[Finding] = []
    trail = batches.trail
    in_file = trail.step("in_poll_results")
    if in_file is not None and in_file.missing_count:
        findings.append(
            Finding(
                code="POLL_RESULTS_INCOMPLETE",
                severity="error",
                title=(
                    f"{in_file.missing_count} {in_file.compared_with} batch(es) have no entry in "
                    f"poll_results.json ({in_file.count} entries)"
                ),
                state=context.facts.profile.role("normalize_poll") if context.facts else None,
                evidence={
                    "s3_key": batches.location,
                    "compared_with": in_file.compared_with,
                    "missing_count": in_file.missing_count,
                    "missing_batch_ids": in_file.missing_ids,
                    "entries": batches.summary.entries,
                },
                next_steps=[
                    "Find why these batches' results could not be read (look for 'Skipping' "
                    "lines in the normalize step's logs).",
                    "Re-poll the missing batches; their embeddings are not in the snapshot.",
                ],
            )
        )
    marked = trail.step("marked_complete")
    if marked is not None and marked.compared_with == "processed" and marked.extra_count:
        findings.append(
            Finding(
                code="BATCHES_MARKED_NOT_PROCESSED",
                severity="error",
                title=(
                    f"{marked.extra_count} batch(es) were marked complete without processed "
                    "results in poll_results.json"
                ),
                state=context.facts.profile.role("mark_complete") if context.facts else None,
                evidence={
                    "s3_key": batches.location,
                    "extra_count": marked.extra_count,
                    "batch_ids": marked.extra_ids,
                },
                next_steps=[
                    "Reset these batches to pending so the next run ingests them.",
                ],
            )
        )
    summary = batches.summary
    if summary.duplicate_batch_id_count:
        findings.append(
            Finding(
                code="POLL_RESULTS_DUPLICATES",
                severity="warning",
                title=f"{summary.duplicate_batch_id_count} batch id(s) repeat in poll_results.json",
                state=None,
                evidence={
                    "s3_key": batches.location,
                    "duplicate_batch_ids": summary.duplicate_batch_ids,
                },
                next_steps=["Check whether a batch's embeddings were merged twice."],
            )
        )
    return findings
