"""Embedding counts per stage and the first stage where the count drops."""

from __future__ import annotations

from sfn_forensics.facts.embeddings import EmbeddingFacts, StageCount


def facts(*counts: int | None) -> EmbeddingFacts:
    stages = [StageCount(f"s{i}", count) for i, count in enumerate(counts)]
    known = [c for c in counts if c is not None]
    return EmbeddingFacts(
        stages=stages,
        expected=counts[0],
        final=known[-1] if known else None,
        final_stage=None,
    )


def test_first_drop_found() -> None:
    drop = facts(100, 100, 40, 40).first_drop()
    assert drop is not None
    assert drop[0].stage == "s1"
    assert drop[1].stage == "s2"


def test_first_drop_skips_unknown_stage() -> None:
    drop = facts(100, None, 40).first_drop()
    assert drop is not None
    assert drop[0].stage == "s0"
    assert drop[1].stage == "s2"


def test_no_drop_when_equal() -> None:
    assert facts(100, 100, 100).first_drop() is None


def test_increase_is_not_a_drop() -> None:
    assert facts(100, 120, 120).first_drop() is None


def test_lost_and_share() -> None:
    result = facts(62455, 27793, 13223)
    assert result.lost == 49232
    assert result.lost_share is not None
    assert round(result.lost_share, 3) == 0.788


def test_lost_unknown_without_expected() -> None:
    result = facts(None, 10)
    assert result.lost is None
    assert result.lost_share is None
