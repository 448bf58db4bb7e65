"""Offline tests of poll_results summaries and batch trail reconciliation."""

from __future__ import annotations

import io
import json
from typing import Any

from sfn_forensics.pollresults import iter_poll_results, reconcile_trail, summarize


def processed(
    batch_id: str, embeddings: Any = 10, results: Any = 10, **extra: Any
) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "openai_batch_id": f"batch_{batch_id}",
        "batch_status": "completed",
        "action": "process_results",
        "results_count": results,
        "delta_id": f"delta-{batch_id}",
        "delta_key": f"words/delta/delta-{batch_id}/",
        "embedding_count": embeddings,
        **extra,
    }


def waiting(batch_id: str, status: str = "in_progress") -> dict[str, Any]:
    return {"batch_id": batch_id, "batch_status": status, "action": "wait"}


def test_summarize_counts_by_status_and_action() -> None:
    summary = summarize(
        [
            processed("b1"),
            processed("b2", action="process_partial", batch_status="expired"),
            waiting("b3"),
            waiting("b4", status="validating"),
            {"batch_id": "b5", "batch_status": "failed", "action": "handle_failure"},
            {"batch_id": "b6", "batch_status": "cancelled", "action": "handle_cancellation"},
            {"batch_id": "b7", "action": "error", "error": "KeyError"},
        ]
    )
    assert summary.entries == 7
    assert summary.by_action == {
        "process_results": 1,
        "process_partial": 1,
        "wait": 2,
        "handle_failure": 1,
        "handle_cancellation": 1,
        "error": 1,
    }
    assert summary.by_status == {
        "completed": 1,
        "expired": 1,
        "in_progress": 1,
        "validating": 1,
        "failed": 1,
        "cancelled": 1,
        "(missing)": 1,
    }
    assert summary.unknown_actions == []


def test_summarize_processed_sums() -> None:
    summary = summarize(
        [
            processed("b1", embeddings=100, results=101),
            processed("b2", embeddings=50, results=50, action="process_partial"),
            # embedding_count on an entry that was not processed is not summed.
            {**waiting("b3"), "embedding_count": 999, "results_count": 999},
        ]
    )
    assert summary.processed_entries == 2
    assert summary.embedding_count == 150
    assert summary.results_count == 151
    assert summary.processed_batch_ids == {"b1", "b2"}


def test_summarize_invalid_embedding_counts() -> None:
    entry_without_count = processed("b2")
    del entry_without_count["embedding_count"]
    summary = summarize(
        [
            processed("b1", embeddings=7),
            entry_without_count,
            processed("b3", embeddings="12"),
            processed("b4", embeddings=3.0),
            processed("b5", embeddings=True),
            processed("b6", embeddings=-4),
            processed("b7", embeddings=None, results=None),
        ]
    )
    assert summary.embedding_count == 7
    assert summary.embedding_count_missing == 6
    assert summary.results_count_missing == 1
    assert summary.processed_entries == 7


def test_summarize_duplicates() -> None:
    entries = [
        processed("a"),
        waiting("b"),
        processed("a"),
        waiting("b"),
        waiting("a"),
        waiting("c"),
    ]
    summary = summarize(entries)
    assert summary.unique_batch_ids == 3
    assert summary.duplicate_batch_ids == ["a", "b"]
    assert summary.duplicate_batch_id_count == 2
    assert summary.batch_ids == {"a", "b", "c"}


def test_summarize_duplicates_listed_up_to_20() -> None:
    ids = [f"id-{index:03d}" for index in range(30)]
    summary = summarize([waiting(batch_id) for batch_id in ids + ids + ids])
    assert summary.duplicate_batch_ids == ids[:20]
    assert summary.duplicate_batch_id_count == 30
    assert summary.entries == 90


def test_summarize_missing_and_invalid_fields() -> None:
    summary = summarize(
        [
            {"action": "wait"},
            {"batch_id": "", "action": "wait"},
            {"batch_id": 42, "batch_status": 3, "action": ["x"]},
            {"batch_id": "b1", "action": "retry_later"},
        ]
    )
    assert summary.entries_without_batch_id == 3
    assert summary.unique_batch_ids == 1
    assert summary.by_status == {"(missing)": 3, "(not a string)": 1}
    assert summary.by_action == {"wait": 2, "(not a string)": 1, "retry_later": 1}
    assert summary.unknown_actions == ["retry_later"]


def test_summarize_counts_non_dicts_as_invalid() -> None:
    summary = summarize([processed("b1"), 5, "text", None])
    assert summary.entries == 1
    assert summary.invalid_entries == 3


def test_summarize_reader_invalid_entries() -> None:
    data = json.dumps([processed("b1"), 5, [processed("b2")], waiting("b3")]).encode()
    summary = summarize(iter_poll_results(io.BytesIO(data), chunk_size=16))
    assert summary.entries == 2
    assert summary.invalid_entries == 2
    assert summary.batch_ids == {"b1", "b3"}


def test_summarize_empty() -> None:
    summary = summarize([])
    assert summary.entries == 0
    assert summary.to_json()["by_action"] == {}


def test_summary_to_json() -> None:
    summary = summarize([processed("b1", embeddings=5), processed("b1", embeddings=5)])
    data = summary.to_json()
    assert data["entries"] == 2
    assert data["unique_batch_ids"] == 1
    assert data["duplicate_batch_ids"] == ["b1"]
    assert data["embedding_count"] == 10
    assert data["processed_batch_ids"] == 1
    assert "batch_ids" not in data
    assert json.loads(json.dumps(data)) == data


def test_reconcile_trail_missing_and_extra() -> None:
    listed = {f"b{index:02d}" for index in range(10)}
    polled = listed - {"b03"}
    in_file = polled - {"b05", "b06"}
    processed_ids = {"b00", "b01", "b02", "x-extra"}
    trail = reconcile_trail(
        [
            ("listed", listed),
            ("polled", polled),
            ("in_poll_results", in_file),
            ("processed", processed_ids),
        ]
    )
    steps = {step.name: step for step in trail.steps}
    assert steps["listed"].count == 10
    assert steps["listed"].compared_with is None
    assert steps["polled"].missing_ids == ["b03"]
    assert steps["polled"].missing_count == 1
    assert steps["in_poll_results"].compared_with == "polled"
    assert steps["in_poll_results"].missing_ids == ["b05", "b06"]
    assert steps["processed"].missing_count == 4
    assert steps["processed"].missing_ids == ["b04", "b07", "b08", "b09"]
    assert steps["processed"].extra_ids == ["x-extra"]
    assert steps["processed"].extra_count == 1


def test_reconcile_trail_unknown_step_skipped() -> None:
    trail = reconcile_trail(
        [
            ("listed", {"a", "b", "c"}),
            ("polled", None),
            ("in_poll_results", {"a", "b"}),
            ("marked_complete", None),
        ],
        reasons={"polled": "history has no Map iteration outputs"},
    )
    polled = trail.step("polled")
    in_file = trail.step("in_poll_results")
    marked = trail.step("marked_complete")
    assert polled is not None
    assert polled.count is None
    assert polled.known is False
    assert polled.reason == "history has no Map iteration outputs"
    assert in_file is not None
    assert in_file.compared_with == "listed"
    assert in_file.missing_ids == ["c"]
    assert marked is not None
    assert marked.reason == "batch ids not available for this step"


def test_reconcile_trail_lists_20_sorted_ids() -> None:
    listed = {f"id-{index:03d}" for index in range(100)}
    trail = reconcile_trail([("listed", listed), ("processed", set())])
    processed_step = trail.steps[1]
    assert processed_step.missing_count == 100
    assert processed_step.missing_ids == sorted(listed)[:20]


def test_reconcile_trail_first_loss() -> None:
    trail = reconcile_trail(
        [("listed", {"a", "b"}), ("polled", {"a", "b"}), ("processed", {"a"}), ("done", set())]
    )
    first = trail.first_loss()
    assert first is not None
    assert first.name == "processed"


def test_reconcile_trail_no_loss() -> None:
    trail = reconcile_trail([("listed", {"a"}), ("polled", None), ("processed", {"a"})])
    assert trail.first_loss() is None


def test_batch_trail_to_json() -> None:
    trail = reconcile_trail([("listed", {"a", "b"}), ("polled", None), ("processed", {"b", "z"})])
    data = trail.to_json()
    assert [step["name"] for step in data["steps"]] == ["listed", "polled", "processed"]
    assert data["steps"][1]["count"] is None
    assert data["steps"][2]["missing_ids"] == ["a"]
    assert data["steps"][2]["extra_ids"] == ["z"]
    assert json.loads(json.dumps(data)) == data
