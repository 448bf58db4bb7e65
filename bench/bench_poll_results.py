"""Benchmark reading poll_results.json as a stream against loading it whole, with the same summary.

Run: .venv/bin/python bench/bench_poll_results.py [--runs 5] [--sizes 10000,100000]

For each size the script writes a poll_results.json of that many entries to a temporary folder.
The entries are shaped like the poll Lambda's: one unique batch id per entry, and five actions in
turn, two of which are processed with an embedding count. Three readers are measured, and all
of them end in `summarize`:

- stream: `summarize(iter_poll_results(binary file))`, the product's path;
- json.load: `summarize(json.load(text file))`;
- orjson.loads: `summarize(orjson.loads(file bytes))`.

Wall time is the median of `--runs` runs without tracing. Peak traced memory comes from one more
run under `tracemalloc`, which traces Python's allocators only. "Retained by summary" is the
traced memory still allocated when the read returns, mostly the summary's sets of batch ids.
The peak RSS growth comes from a fresh child process per reader (VmHWM after the read minus
VmHWM after the imports). It also counts memory that tracemalloc does not see, such as
allocator overhead, but not memory reserved and never touched. It needs Linux's /proc.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from benchmark_support import format_bytes, format_seconds, print_machine, print_table, time_runs

from sfn_forensics.pollresults import PollResultsSummary, iter_poll_results, summarize

ACTIONS = ("process_results", "process_partial", "handle_failure", "wait", "handle_cancellation")
EMBEDDINGS_PER_PROCESSED_ENTRY = 40


def write_poll_results(path: Path, count: int) -> None:
    """Write `count` entries shaped like the poll Lambda's, one JSON object per line."""
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
                    results_count=EMBEDDINGS_PER_PROCESSED_ENTRY,
                    delta_id=f"{index:032x}",
                    delta_key=f"words/delta/{index:032x}/",
                    embedding_count=EMBEDDINGS_PER_PROCESSED_ENTRY,
                )
            output.write(("," if index else "") + json.dumps(entry) + "\n")
        output.write("]\n")


def read_stream(path: Path) -> PollResultsSummary:
    with path.open("rb") as stream:
        return summarize(iter_poll_results(stream))


def read_json_load(path: Path) -> PollResultsSummary:
    with path.open(encoding="utf-8") as stream:
        document: Any = json.load(stream)
    return summarize(document)


def read_orjson(path: Path) -> PollResultsSummary:
    document: Any = orjson.loads(path.read_bytes())
    return summarize(document)


READERS: dict[str, Callable[[Path], PollResultsSummary]] = {
    "stream": read_stream,
    "json.load": read_json_load,
    "orjson.loads": read_orjson,
}


def traced_bytes(reader: Callable[[Path], PollResultsSummary], path: Path) -> tuple[int, int]:
    """Return the peak traced bytes of one read, and the bytes its summary still retains."""
    tracemalloc.start()
    try:
        summary = reader(path)
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del summary
    return peak, retained


def peak_rss_growth_bytes(reader_name: str, path: Path) -> int:
    """Run one reader in a fresh interpreter and return how much its peak RSS grew, in bytes."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", reader_name, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(completed.stdout.strip())


def peak_rss_bytes() -> int:
    """Return this process's peak resident set size (VmHWM) in bytes.

    VmHWM belongs to the address space, which execve replaces, so unlike getrusage's ru_maxrss
    it does not start at the parent's peak. Linux only.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def run_child(reader_name: str, path: Path) -> int:
    """Print the growth of the peak RSS during one read, in bytes."""
    before = peak_rss_bytes()
    READERS[reader_name](path)
    print(peak_rss_bytes() - before)
    return 0


def check_summary(summary: PollResultsSummary, count: int) -> None:
    processed = sum(1 for index in range(count) if ACTIONS[index % len(ACTIONS)].startswith("p"))
    expected = (count, count, processed, processed * EMBEDDINGS_PER_PROCESSED_ENTRY)
    found = (
        summary.entries,
        summary.unique_batch_ids,
        summary.processed_entries,
        summary.embedding_count,
    )
    if found != expected:
        raise SystemExit(f"summary {found} does not match the generated file {expected}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per reader and size")
    parser.add_argument(
        "--sizes", default="10000,100000", help="comma-separated numbers of entries"
    )
    parser.add_argument("--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child[0], Path(args.child[1]))

    print_machine("bench_poll_results")
    print(f"- runs per measurement: {args.runs}")
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-poll-results-") as folder:
        for count in [int(size) for size in args.sizes.split(",")]:
            path = Path(folder) / f"poll_results_{count}.json"
            write_poll_results(path, count)
            file_size = path.stat().st_size
            reference = read_json_load(path).to_json()
            stream_median: float | None = None
            for name, reader in READERS.items():
                summary = reader(path)
                check_summary(summary, count)
                if summary.to_json() != reference:
                    raise SystemExit(f"{name} gives another summary than json.load")
                timings = time_runs(functools.partial(reader, path), args.runs)
                if name == "stream":
                    stream_median = timings.median
                assert stream_median is not None
                peak, retained = traced_bytes(reader, path)
                rss = peak_rss_growth_bytes(name, path)
                rows.append(
                    [
                        f"{count:,}",
                        format_bytes(file_size),
                        name,
                        format_seconds(timings.median),
                        f"{format_seconds(timings.minimum)} / {format_seconds(timings.maximum)}",
                        f"{count / timings.median:,.0f}",
                        f"{timings.median / stream_median:.2f}x",
                        format_bytes(peak),
                        f"{peak / file_size:.2f}",
                        format_bytes(retained),
                        format_bytes(rss),
                    ]
                )
                print(f"  measured {name} on {count:,} entries", file=sys.stderr)

    print_table(
        "poll_results.json: read and summarize",
        [
            "entries",
            "file size",
            "reader",
            "median",
            "min / max",
            "entries/s",
            "time vs stream",
            "peak traced",
            "peak / file size",
            "retained by summary",
            "peak RSS growth",
        ],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
