"""Embedding counts at each pipeline stage, and where the count first drops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sfn_forensics.asl.definition import Definition
from sfn_forensics.facts.logs import STRONG_TIES, LogFacts
from sfn_forensics.facts.snapshot import SnapshotFacts
from sfn_forensics.logs.model import TiedLine
from sfn_forensics.pollresults.summary import PollResultsSummary
from sfn_forensics.profiles.engine import ProfileFacts
from sfn_forensics.profiles.schema import Stage


@dataclass
class StageCount:
    stage: str
    count: int | None
    source: str | None = None
    reason: str | None = None
    # Log lines or keys behind the count, for findings.
    evidence: list[Any] = field(default_factory=list)
    # False when the run never reached this stage, so there is nothing to count.
    applicable: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "count": self.count,
            "source": self.source,
            "reason": self.reason,
            "applicable": self.applicable,
        }


@dataclass
class EmbeddingFacts:
    stages: list[StageCount]
    expected: int | None
    final: int | None
    final_stage: str | None

    @property
    def lost(self) -> int | None:
        if self.expected is None or self.final is None:
            return None
        return self.expected - self.final

    @property
    def lost_share(self) -> float | None:
        lost = self.lost
        if lost is None or not self.expected:
            return None
        return lost / self.expected

    def first_drop(self) -> tuple[StageCount, StageCount] | None:
        """Return (previous, dropped) for the first known stage whose count is below the last."""
        previous: StageCount | None = None
        for stage in self.stages:
            if stage.count is None:
                continue
            if previous is not None and previous.count is not None and stage.count < previous.count:
                return previous, stage
            previous = stage
        return None

    def to_json(self) -> dict[str, Any]:
        share = self.lost_share
        return {
            "stages": [stage.to_json() for stage in self.stages],
            "expected": self.expected,
            "final": self.final,
            "final_stage": self.final_stage,
            "lost": self.lost,
            "lost_share": round(share, 4) if share is not None else None,
        }


# The final count comes from the most direct evidence of what the snapshot holds.
_FINAL_PREFERENCE = ("snapshot_verified", "snapshot_metadata", "final_merge")


def embedding_facts(
    facts: ProfileFacts,
    definition: Definition | None,
    log_facts: LogFacts | None,
    log_reason: str | None,
    poll_summary: PollResultsSummary | None,
    poll_reason: str | None,
    snapshot: SnapshotFacts | None,
    snapshot_reason: str | None,
    ran_states: set[str],
) -> EmbeddingFacts:
    stages: list[StageCount] = []
    for stage in facts.profile.stages:
        skipped = _not_reached(stage, facts, ran_states)
        if skipped is not None:
            stages.append(StageCount(stage.name, None, reason=skipped, applicable=False))
            continue
        if stage.source == "poll_results":
            stages.append(_from_poll_results(stage, poll_summary, poll_reason))
        elif stage.source == "logs":
            stages.append(_from_logs(stage, definition, log_facts, log_reason))
        elif stage.source == "value":
            stages.append(_from_value(stage, facts, definition, log_facts, log_reason))
        elif stage.source == "snapshot_metadata":
            stages.append(_from_snapshot_metadata(stage, snapshot, snapshot_reason))
        else:
            stages.append(_from_snapshot_verified(stage, snapshot, snapshot_reason))

    expected = stages[0].count if stages else None
    final = None
    final_stage = None
    by_name = {stage.stage: stage for stage in stages}
    for name in _FINAL_PREFERENCE:
        stage_count = by_name.get(name)
        if stage_count is not None and stage_count.count is not None:
            final, final_stage = stage_count.count, name
            break
    return EmbeddingFacts(stages=stages, expected=expected, final=final, final_stage=final_stage)


def _not_reached(stage: Stage, facts: ProfileFacts, ran_states: set[str]) -> str | None:
    """Return why the run never reached `stage`, or None when it did."""
    if stage.path is not None and facts.path != stage.path:
        return f"not on the {facts.path} path"
    if stage.source == "poll_results":
        writer = facts.profile.role("normalize_poll")
        if writer is not None and writer not in ran_states:
            return f"{writer} did not run"
    elif stage.source in ("snapshot_metadata", "snapshot_verified"):
        merge = facts.final_merge
        if merge is not None and not merge.ran:
            return "the final merge did not run, so no snapshot was written"
        if merge is not None and not merge.succeeded:
            return "the final merge failed, so no snapshot was written"
    elif stage.state is not None and stage.state not in ran_states:
        return f"{stage.state} did not run"
    return None


def _from_poll_results(
    stage: Stage, summary: PollResultsSummary | None, reason: str | None
) -> StageCount:
    if summary is None:
        return StageCount(stage.name, None, reason=reason or "poll_results.json unavailable")
    source = f"sum of embedding_count over {summary.processed_entries} processed entries"
    if summary.embedding_count_missing:
        source += f" ({summary.embedding_count_missing} entries without a count)"
    return StageCount(stage.name, summary.embedding_count, source=source)


def states_within(stage_state: str, definition: Definition | None) -> set[str]:
    """Return the named state plus every state nested inside it (a Map's iteration states)."""
    states = {stage_state}
    if definition is not None:
        states.update(
            name for name, state in definition.states.items() if stage_state in state.scope
        )
    return states


def _from_logs(
    stage: Stage,
    definition: Definition | None,
    log_facts: LogFacts | None,
    log_reason: str | None,
) -> StageCount:
    if log_facts is None:
        return StageCount(stage.name, None, reason=log_reason or "no Lambda logs were read")
    assert stage.state is not None and stage.field is not None
    states = states_within(stage.state, definition)
    ties = log_facts.ties_for_states(states, strong_only=True)
    method_note = ""
    if not ties:
        ties = log_facts.ties_for_states(states, strong_only=False)
        method_note = "; tied by time window only, so lines of concurrent executions may count"
    total, used = _sum_field(ties, stage.field)
    if not used:
        return StageCount(
            stage.name,
            None,
            reason=f"no log line of {stage.state} carries {stage.field}",
        )
    return StageCount(
        stage.name,
        total,
        source=(f"sum of {stage.field} in {len(used)} log lines of {stage.state}{method_note}"),
        evidence=used[:5],
    )


def _sum_field(ties: list[TiedLine], expression: str) -> tuple[int, list[TiedLine]]:
    """Sum one value per Lambda invocation: the last line of the invocation carrying the field.

    Invocations, not visits, are the unit, because a line tied to the wrong one of several
    overlapping Map iterations must not replace another iteration's value.
    """
    import jmespath

    compiled = jmespath.compile(expression)
    chosen: dict[Any, tuple[int, TiedLine]] = {}
    for tie in ties:
        value = compiled.search(tie.line.fields)
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        key: Any = tie.line.request_id or id(tie)
        chosen[key] = (value, tie)
    used = [tie for _, tie in chosen.values()]
    return sum(value for value, _ in chosen.values()), used


def _from_value(
    stage: Stage,
    facts: ProfileFacts,
    definition: Definition | None,
    log_facts: LogFacts | None,
    log_reason: str | None,
) -> StageCount:
    assert stage.value is not None
    observed = facts.values.get(stage.value)
    if observed is not None and isinstance(observed.value, int):
        return StageCount(stage.name, observed.value, source=observed.source)
    if stage.state is not None and stage.field is not None:
        from_logs = _from_logs(stage, definition, log_facts, log_reason)
        if from_logs.count is not None:
            return from_logs
    reason = observed.reason if observed is not None else f"no value {stage.value}"
    return StageCount(stage.name, None, reason=reason)


def _from_snapshot_metadata(
    stage: Stage, snapshot: SnapshotFacts | None, reason: str | None
) -> StageCount:
    if snapshot is None:
        return StageCount(stage.name, None, reason=reason or "snapshot unavailable")
    total = snapshot.report.total_embeddings
    if total is None:
        return StageCount(
            stage.name, None, reason="no snapshot object carries total_embeddings metadata"
        )
    return StageCount(
        stage.name,
        total,
        source=f"total_embeddings metadata on s3://{snapshot.bucket}/{snapshot.prefix}",
    )


def _from_snapshot_verified(
    stage: Stage, snapshot: SnapshotFacts | None, reason: str | None
) -> StageCount:
    if snapshot is None:
        return StageCount(stage.name, None, reason=reason or "snapshot unavailable")
    if snapshot.verified_counts is None:
        return StageCount(
            stage.name,
            None,
            reason=snapshot.verify_error or "not verified (use --verify-snapshot)",
        )
    counts = sorted(snapshot.verified_counts.items())
    per_collection = ", ".join(f"{name} {count}" for name, count in counts)
    return StageCount(
        stage.name,
        snapshot.verified_total,
        source=f"counted with Chroma in s3://{snapshot.bucket}/{snapshot.prefix}: {per_collection}",
    )


__all__ = ["STRONG_TIES", "EmbeddingFacts", "StageCount", "embedding_facts", "states_within"]
