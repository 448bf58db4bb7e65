"""Count mismatches between the stages of a profiled workflow."""

from __future__ import annotations

from typing import Any

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec, Inconclusive
from sfn_forensics.checks.model import Finding
from sfn_forensics.profiles.engine import Observed

SPEC = CheckSpec(
    name="stage_counts",
    description="Compare batch, chunk and group counts from one stage to the next.",
    codes=(
        CodeSpec(
            "BATCHES_NOT_ALL_POLLED",
            "error",
            "Fewer poll iterations succeeded than batches listed.",
        ),
        CodeSpec(
            "CHUNKS_NOT_ALL_PROCESSED", "error", "Fewer chunk iterations succeeded than chunks."
        ),
        CodeSpec(
            "GROUP_COUNT_MISMATCH",
            "error",
            "The number of groups differs from ceil(chunks / group_size) read from the definition.",
        ),
        CodeSpec("GROUPS_NOT_ALL_MERGED", "error", "Fewer group merges succeeded than groups."),
        CodeSpec(
            "BATCHES_MARKED_MISMATCH",
            "warning",
            "The number of batches marked complete differs from the number listed.",
        ),
    ),
    needs_profile=True,
)


def run(context: CheckContext) -> list[Finding]:
    facts = context.facts
    if facts is None:
        raise Inconclusive("no workflow profile applies")
    findings: list[Finding] = []
    pairs = (
        ("BATCHES_NOT_ALL_POLLED", "batches_listed", "batches_polled", "poll_map"),
        ("CHUNKS_NOT_ALL_PROCESSED", "chunks", "chunks_processed", "chunk_map"),
        ("GROUPS_NOT_ALL_MERGED", "groups", "groups_merged", "group_map"),
    )
    for code, expected_name, actual_name, role in pairs:
        expected = facts.counts.get(expected_name)
        actual = facts.counts.get(actual_name)
        if code == "GROUPS_NOT_ALL_MERGED":
            # Error payloads are group merges that ran; GROUP_MERGE_ERROR_PAYLOAD reports them.
            actual = _merges_that_ran(actual, facts.counts.get("group_merge_errors"))
        if not _both_ints(expected, actual):
            continue
        assert expected is not None and actual is not None
        if actual.value < expected.value:
            state = facts.profile.role(role)
            findings.append(
                _mismatch(code, "error", state, expected_name, expected, actual_name, actual)
            )

    marked = facts.counts.get("batches_marked_complete")
    listed = facts.counts.get("batches_listed")
    if _both_ints(listed, marked):
        assert listed is not None and marked is not None
        if marked.value != listed.value:
            findings.append(
                _mismatch(
                    "BATCHES_MARKED_MISMATCH",
                    "warning",
                    facts.profile.role("mark_complete"),
                    "batches_listed",
                    listed,
                    "batches_marked_complete",
                    marked,
                )
            )

    groups = facts.counts.get("groups")
    if (
        facts.expected_groups is not None
        and groups is not None
        and isinstance(groups.value, int)
        and groups.value != facts.expected_groups
    ):
        group_size = facts.expected.get("group_size")
        findings.append(
            Finding(
                code="GROUP_COUNT_MISMATCH",
                severity="error",
                title=(
                    f"{groups.value} groups, but {facts.count('chunks')} chunks in groups of "
                    f"{group_size.value if group_size else '?'} make {facts.expected_groups}"
                ),
                state=facts.profile.role("create_groups"),
                evidence={
                    "groups": groups.value,
                    "groups_source": groups.source,
                    "chunks": facts.count("chunks"),
                    "group_size": group_size.value if group_size else None,
                    "group_size_source": group_size.source if group_size else None,
                    "expected_groups": facts.expected_groups,
                },
                next_steps=["Check how the group-creating Lambda splits chunks into groups."],
            )
        )
    return findings


def _merges_that_ran(merged: Observed | None, errors: Observed | None) -> Observed | None:
    if merged is None or errors is None:
        return merged
    if not isinstance(merged.value, int) or not isinstance(errors.value, int):
        return merged
    return Observed(
        merged.value + errors.value,
        source=f"{merged.source}, plus {errors.value} error payload(s)",
        event_id=merged.event_id,
    )


def _both_ints(first: Observed | None, second: Observed | None) -> bool:
    return (
        first is not None
        and second is not None
        and isinstance(first.value, int)
        and isinstance(second.value, int)
    )


def _mismatch(
    code: str,
    severity: Any,
    state: str | None,
    expected_name: str,
    expected: Observed,
    actual_name: str,
    actual: Observed,
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        title=f"{actual_name} is {actual.value}, but {expected_name} is {expected.value}",
        state=state,
        evidence={
            expected_name: expected.value,
            f"{expected_name}_source": expected.source,
            actual_name: actual.value,
            f"{actual_name}_source": actual.source,
            "difference": expected.value - actual.value,
        },
        next_steps=[f"Find which items of {state or 'the stage'} are missing and rerun them."],
    )
