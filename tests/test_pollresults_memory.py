"""Memory bound of streaming a large poll_results file through the summary."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from sfn_forensics.pollresults import iter_poll_results, summarize

ENTRY_COUNT = 100_000
ACTIONS = ["process_results", "process_partial", "handle_failure", "wait", "handle_cancellation"]


def write_poll_results(path: Path, count: int) -> None:
    """Write `count` entries shaped like the poll Lambda's, one per unique batch id."""
    with path.open("w", encoding="utf-8") as output:
        output.write("[\n")
        for index in range(count):
            action = ACTIONS[index % len(ACTIONS)]
            entry: dict[str, object] = {
                "batch_id": f"{index:08x}-5c1e-4a7b-9d2f-{index:012x}",
                "openai_batch_id": f"batch_{index:032x}",
                "batch_status": "completed" if action.startswith("process") else "in_progress",
                "action": action,
            }
            if action.startswith("process"):
                entry.update(
                    results_count=40,
                    delta_id=f"{index:032x}",
                    delta_key=f"words/delta/{index:032x}/",
                    embedding_count=40,
                )
            output.write(("," if index else "") + json.dumps(entry) + "\n")
        output.write("]\n")


def test_summarize_peak_memory_bounded(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    path = tmp_path / "poll_results.json"
    write_poll_results(path, ENTRY_COUNT)
    file_size = path.stat().st_size

    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            summary = summarize(iter_poll_results(stream))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    ratio = peak / file_size
    record_property("poll_results_bytes", file_size)
    record_property("peak_traced_bytes", peak)
    record_property("peak_to_file_ratio", round(ratio, 3))
    assert summary.entries == ENTRY_COUNT
    assert summary.unique_batch_ids == ENTRY_COUNT
    assert summary.embedding_count == 40 * 2 * (ENTRY_COUNT // len(ACTIONS))
    assert ratio < 2.0, f"peak {peak} bytes is {ratio:.2f}x the {file_size}-byte file"
