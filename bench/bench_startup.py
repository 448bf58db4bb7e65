"""Benchmark the start-up of the `forensics` command and list the heavy modules it imports.

Run: .venv/bin/python bench/bench_startup.py [--runs 10]

Each command runs as a new process, once untimed to warm the OS file cache and then `--runs`
times. The first table gives the wall time of the whole process. A second pass runs each command
once more under `python -X importtime` and reads the module list from its stderr. It shows
whether boto3, botocore, rich, jmespath, orjson or chromadb were imported, the cumulative import
time that `-X importtime` reports for each, and the top-level import that pulled each in. The
tracing makes imports a little slower than normal.

`forensics --help` with TYPER_USE_RICH=0 is measured too: typer then formats help without rich,
so the difference to plain `forensics --help` is an estimate of what the rich help formatting
costs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark_support import Timings, format_seconds, print_machine, print_table

PYTHON = sys.executable
FORENSICS = str(Path(sys.executable).with_name("forensics"))

# Modules that `forensics --help` must not import, because only the commands that call AWS or
# render a report need them.
FORBIDDEN_MODULES = ("boto3", "botocore", "rich", "rich.table", "jmespath", "orjson", "chromadb")
# Shown for context; importing these at start-up is expected.
CONTEXT_MODULES = ("typer", "typer._click", "pydantic", "tabulate")

_IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


@dataclass(frozen=True)
class Command:
    label: str
    argv: tuple[str, ...]
    environment: tuple[tuple[str, str], ...] = ()


COMMANDS = (
    Command("python -c pass (interpreter only)", (PYTHON, "-c", "pass")),
    Command('python -c "import sfn_forensics.cli"', (PYTHON, "-c", "import sfn_forensics.cli")),
    Command("forensics --help", (FORENSICS, "--help")),
    Command("forensics inspect --help", (FORENSICS, "inspect", "--help")),
    Command(
        "forensics --help, TYPER_USE_RICH=0",
        (FORENSICS, "--help"),
        (("TYPER_USE_RICH", "0"),),
    ),
)


def _environment(command: Command) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(command.environment)
    # A wide fixed terminal size keeps typer's help layout the same on every run.
    environment["COLUMNS"] = "100"
    return environment


def time_command(command: Command, runs: int) -> Timings:
    environment = _environment(command)
    seconds: list[float] = []
    for attempt in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(
            command.argv,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=60,
        )
        if attempt > 0:
            seconds.append(time.perf_counter() - started)
    return Timings(tuple(seconds))


@dataclass(frozen=True)
class ImportRecord:
    cumulative_us: int
    # The module imported at the top level (depth 0) whose import pulled this one in.
    top_level: str


def imported_modules(command: Command) -> dict[str, ImportRecord]:
    """Run the command under `-X importtime` and return every module it imported."""
    argv = list(command.argv)
    if argv[0] == FORENSICS:
        argv = [PYTHON, "-X", "importtime", *argv]
    else:
        argv = [argv[0], "-X", "importtime", *argv[1:]]
    completed = subprocess.run(
        argv,
        env=_environment(command),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
        timeout=60,
    )
    parsed: list[tuple[str, int, int]] = []
    for line in completed.stderr.splitlines():
        match = _IMPORTTIME_LINE.match(line)
        if match is not None:
            depth = len(match.group(3)) // 2
            parsed.append((match.group(4), int(match.group(2)), depth))

    # -X importtime prints a module after everything it imported, so the top-level import of a
    # line is the first line at depth 0 at or after it.
    records: dict[str, ImportRecord] = {}
    top_level = ""
    for name, cumulative, depth in reversed(parsed):
        if depth == 0:
            top_level = name
        records[name] = ImportRecord(cumulative, top_level)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command")
    args = parser.parse_args(argv)
    if not Path(FORENSICS).exists():
        raise SystemExit(f"{FORENSICS} not found: run this script with the virtualenv's Python")

    print_machine("bench_startup")
    print(f"- runs per command: {args.runs}, after one untimed run")

    timing_rows: list[list[object]] = []
    baseline: float | None = None
    for command in COMMANDS:
        timings = time_command(command, args.runs)
        if baseline is None:
            baseline = timings.median
        timing_rows.append(
            [
                command.label,
                format_seconds(timings.minimum),
                format_seconds(timings.median),
                format_seconds(timings.maximum),
                format_seconds(timings.median - baseline),
            ]
        )
    print_table(
        "Process wall time",
        ["command", "min", "median", "max", "median minus interpreter"],
        timing_rows,
    )

    checked = [COMMANDS[1], *(command for command in COMMANDS if command.argv[0] == FORENSICS)]
    imports = {command.label: imported_modules(command) for command in checked}
    module_rows: list[list[object]] = []
    violations: list[str] = []
    for module in (*FORBIDDEN_MODULES, *CONTEXT_MODULES):
        row: list[object] = [module + (" (must not)" if module in FORBIDDEN_MODULES else "")]
        for command in checked:
            record = imports[command.label].get(module)
            if record is None:
                row.append("no")
                continue
            if module in FORBIDDEN_MODULES and "--help" in command.argv:
                violations.append(f"{command.label}: {module}")
            parent = imports[command.label][record.top_level]
            row.append(
                f"yes, {record.cumulative_us / 1000:.1f} ms; via {record.top_level} "
                f"({parent.cumulative_us / 1000:.0f} ms)"
            )
        module_rows.append(row)
    module_rows.append(
        ["(modules imported)", *(f"{len(imports[command.label])}" for command in checked)]
    )
    print_table(
        "Modules imported (python -X importtime; cumulative import time, and the top-level "
        "import that pulled the module in with its own cumulative time)",
        ["module", *(command.label for command in checked)],
        module_rows,
    )
    if violations:
        print("\nHelp output imported modules it must not import:")
        for violation in violations:
            print(f"- {violation}")
        return 1
    print("\nNo help command imported boto3, botocore, rich, jmespath, orjson or chromadb.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
