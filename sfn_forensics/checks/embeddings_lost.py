"""EMBEDDINGS_LOST: the embedding count drops between two pipeline stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec, Inconclusive
from sfn_forensics.checks.model import Finding

if TYPE_CHECKING:
    from sfn_forensics.facts.embeddings import EmbeddingFacts, StageCount

SPEC = CheckSpec(
    name="embeddings_lost",
    description="Compare embedding counts stage by stage and name the first stage that drops.",
    codes=(
        CodeSpec(
            "EMBEDDINGS_LOST",
            "error",
            "Fewer embeddings reached a stage than the stage before it had.",
        ),
    ),
    needs_profile=True,
)


def run(context: CheckContext) -> list[Finding]:
    embeddings: EmbeddingFacts | None = context.extras.get("embeddings")
    if embeddings is None or not embeddings.stages:
        raise Inconclusive("the profile declares no embedding stages")

    applicable = [stage for stage in embeddings.stages if stage.applicable]
    known = [stage for stage in applicable if stage.count is not None]
    if len(known) == len(applicable) and len(known) < 2:
        # The run stopped before a second stage (nothing pending, no chunks): nothing to compare.
        return []
    if len(known) < 2:
        known_names = ", ".join(stage.stage for stage in known) or "none"
        raise Inconclusive(f"fewer than two stage counts are known (known: {known_names})")

    drop = embeddings.first_drop()
    if drop is None:
        return []
    before, after = drop
    assert before.count is not None and after.count is not None
    lost_here = before.count - after.count
    share_here = lost_here / before.count if before.count else 0.0

    evidence: dict[str, object] = {
        "stage_before": _side(before),
        "stage_dropped": _side(after),
        "lost_at_stage": lost_here,
        "lost_share_at_stage": round(share_here, 4),
        "expected": embeddings.expected,
        "final": embeddings.final,
        "final_stage": embeddings.final_stage,
        "lost_total": embeddings.lost,
        "lost_share_total": round(embeddings.lost_share, 4)
        if embeddings.lost_share is not None
        else None,
    }

    log_facts = context.extras.get("logs")
    if log_facts is not None:
        loss_lines = _loss_lines(context, after.stage)
        if loss_lines:
            evidence["log_lines"] = loss_lines
    total = ""
    if embeddings.lost is not None and embeddings.lost_share is not None:
        total = (
            f"; {embeddings.lost:,} of {embeddings.expected:,} "
            f"({embeddings.lost_share:.1%}) lost in all"
        )
    return [
        Finding(
            code="EMBEDDINGS_LOST",
            severity="error",
            title=(
                f"{lost_here:,} embeddings ({share_here:.1%}) lost at {after.stage}: "
                f"{before.count:,} at {before.stage}, {after.count:,} at {after.stage}{total}"
            ),
            state=_stage_state(context, after.stage),
            evidence=evidence,
            next_steps=[
                f"Read the logs of {_stage_state(context, after.stage) or after.stage} for lines "
                "that skip, truncate or fail: forensics logs "
                f"{context.evidence.execution_name or 'EXECUTION'} --level WARNING.",
                "After fixing it, rerun the affected batches: they are already marked complete, "
                "so a normal run will not pick them up again.",
            ],
        )
    ]


def _side(stage: StageCount) -> dict[str, object]:
    return {
        "stage": stage.stage,
        "count": stage.count,
        "source": stage.source,
    }


def _stage_state(context: CheckContext, stage_name: str) -> str | None:
    """Return the state whose work a stage counts; poll_results.json is the normalize step's."""
    if context.facts is None:
        return None
    for stage in context.facts.profile.stages:
        if stage.name == stage_name:
            if stage.source == "poll_results":
                return context.facts.profile.role("normalize_poll")
            return stage.state
    return None


def _loss_lines(context: CheckContext, stage_name: str) -> list[dict[str, object]]:
    """Return the data-loss log lines from the dropped stage's states, as evidence."""
    from sfn_forensics.facts.embeddings import states_within
    from sfn_forensics.facts.logs import describe_line

    state = _stage_state(context, stage_name)
    log_facts = context.extras.get("logs")
    if state is None or log_facts is None:
        return []
    states = states_within(state, context.definition)
    matching = sorted(
        (
            (signal, tie)
            for signal, tie in log_facts.signals
            if signal.kind == "data_loss" and tie.state in states
        ),
        key=lambda item: item[1].line.timestamp,
    )
    return [{**describe_line(tie), "numbers": signal.numbers} for signal, tie in matching[:5]]
