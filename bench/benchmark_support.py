"""Helpers shared by the benchmark scripts: timing statistics, tables and a machine description.

The scripts import this module by name, which works because Python puts the script's own folder
(bench/) first on sys.path when it runs `python bench/<name>.py`.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Timings:
    """Wall times of repeated runs, in seconds."""

    seconds: tuple[float, ...]

    @property
    def minimum(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def maximum(self) -> float:
        return max(self.seconds)


def time_runs(action: Callable[[], object], runs: int, warmup: int = 1) -> Timings:
    """Call `action` `warmup` times untimed, then `runs` times, and return each timed wall time.

    The warm-up calls load lazily imported modules and fill caches, so the timed runs measure
    the steady state. A full garbage collection runs before each timed call, outside the timed
    span, so garbage left by one run is not collected during the next.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    for _ in range(warmup):
        action()
    seconds: list[float] = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return Timings(tuple(seconds))


def format_seconds(seconds: float) -> str:
    """Format a duration with a unit that keeps three significant digits."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def format_bytes(size: float) -> str:
    """Format a byte count in KiB, MiB or GiB (powers of 1024)."""
    units = ("B", "KiB", "MiB", "GiB")
    value = float(size)
    for unit in units:
        if abs(value) < 1024.0 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024.0
    raise AssertionError("unreachable")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render rows as a Markdown table; numbers and durations are right-aligned."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    numeric = [
        all(_looks_numeric(row[index]) for row in cells) if cells else False
        for index in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = [
            value.rjust(widths[index]) if numeric[index] else value.ljust(widths[index])
            for index, value in enumerate(values)
        ]
        return "| " + " | ".join(padded) + " |"

    separator = [
        "-" * (width - 1) + ":" if numeric[index] else "-" * width
        for index, width in enumerate(widths)
    ]
    lines = [line(list(headers)), line(separator)]
    lines.extend(line(row) for row in cells)
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    head = text.split(" ")[0].replace(",", "").replace("x", "").replace("%", "")
    try:
        float(head)
    except ValueError:
        return False
    return True


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(f"\n### {title}\n")
    print(format_table(headers, rows))
    sys.stdout.flush()


def cpu_model() -> str:
    """Return the first `model name` line of /proc/cpuinfo, or the platform's processor name."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    try:
        one_minute, five_minutes, fifteen_minutes = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one_minute:.2f} {five_minutes:.2f} {fifteen_minutes:.2f}"


def git_revision() -> str:
    """Return the short commit of HEAD, with `+changes` when the working tree has edits."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+changes" if status.strip() else "")


def print_machine(benchmark: str) -> None:
    """Print the benchmark name, the date and the machine, as the first lines of a run."""
    print(f"## {benchmark}\n")
    print(f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"- machine: {os.cpu_count()} CPUs, {cpu_model()}, {platform.system()}")
    print(f"- load average at start (1, 5, 15 min): {load_average()}")
    print(f"- Python {platform.python_version()} ({sys.executable})")
    print(
        f"- sfn-forensics {package_version('sfn-forensics')} at {git_revision()}, "
        f"moto {package_version('moto')}, boto3 {package_version('boto3')}"
    )
    sys.stdout.flush()
