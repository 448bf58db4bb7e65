"""Benchmark `forensics inspect` on the reproduced incident in the local sandbox.

Run: .venv/bin/python bench/bench_inspect_sandbox.py [--runs 5] [--breakdown-runs 3]

The script starts moto's server on 127.0.0.1 and stages the incident execution
62bdeb9f-3252-4ff2-b3dd-6f7d93b577b6 (about 15 to 20 s). It runs the sandbox's AWS-like proxy,
which pages GetExecutionHistory at 1,000 events like AWS, in a child process, so the proxy does
not share a GIL with the code being measured. Then it measures:

1. `forensics --endpoint-url <proxy> --region us-east-1 -o json inspect <execution>` as a whole
   new process per run, through the proxy and, for comparison, straight to moto (one page).
2. The library steps of the same inspection in this process, each timed on its own:
   - resolving the execution name;
   - the concurrent Step Functions fetch (`collect_live`), and each of its three calls alone;
   - rebuilding the run (`prepare`) and locating the artifacts (`plan_for`);
   - the concurrent artifact fetch (`collect_artifacts`), and each source alone;
   - `analyze` and the JSON rendering.
   One untimed pass loads the modules and botocore's service models first, so these are warm,
   in-process numbers.

Everything runs on 127.0.0.1. The staged resources live only in the moto server, which stops at
the end.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from benchmark_support import Timings, format_seconds, print_machine, print_table

from sfn_forensics.analysis import analyze, plan_for, prepare
from sfn_forensics.aws.session import AwsOptions, ClientFactory
from sfn_forensics.aws.stepfunctions import (
    describe_execution,
    describe_state_machine_for_execution,
    get_full_history,
    resolve_execution_arn,
)
from sfn_forensics.evidence.artifacts import collect_artifacts
from sfn_forensics.evidence.live import collect_live
from sfn_forensics.evidence.model import SOURCE_LOGS, SOURCE_POLL_RESULTS, SOURCE_SNAPSHOT
from sfn_forensics.render import json_output
from sfn_forensics.sandbox.proxy import AwsLikeProxy
from sfn_forensics.sandbox.scenarios import get_scenario
from sfn_forensics.sandbox.server import MotoServer, require_loopback, start_moto_server
from sfn_forensics.sandbox.up import stage_sandbox

INCIDENT = "62bdeb9f-3252-4ff2-b3dd-6f7d93b577b6"
REGION = "us-east-1"
FORENSICS = str(Path(sys.executable).with_name("forensics"))
ARTIFACT_SOURCES = (SOURCE_LOGS, SOURCE_POLL_RESULTS, SOURCE_SNAPSHOT)
CLI_TIMEOUT_SECONDS = 120

T = TypeVar("T")


# The proxy in its own process


def serve_proxy(upstream_url: str) -> int:
    """Run the AWS-like proxy until stdin closes. Its endpoint URL is the first line printed."""
    proxy = AwsLikeProxy(upstream_url).start()
    try:
        print(proxy.endpoint_url, flush=True)
        sys.stdin.read()
    finally:
        proxy.stop()
    return 0


def start_proxy_process(upstream_url: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-proxy", upstream_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    endpoint_url = process.stdout.readline().strip()
    if not endpoint_url:
        process.kill()
        raise SystemExit("the proxy process exited before it printed its endpoint URL")
    require_loopback(endpoint_url)
    return process, endpoint_url


def stop_proxy_process(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# The whole command


@dataclass
class CliRuns:
    label: str
    seconds: list[float] = field(default_factory=list)
    exit_codes: set[int] = field(default_factory=set)
    verdicts: set[str] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)
    output_bytes: int = 0


def time_cli(label: str, endpoint_url: str, runs: int) -> CliRuns:
    """Run the inspect command `runs` times, each as a new process, and time each run."""
    environment = dict(os.environ)
    # Keep botocore away from the instance metadata address even if the key lookup changes.
    environment["AWS_EC2_METADATA_DISABLED"] = "true"
    command = [
        FORENSICS,
        "--endpoint-url",
        endpoint_url,
        "--region",
        REGION,
        "-o",
        "json",
        "inspect",
        INCIDENT,
    ]
    result = CliRuns(label)
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run(
            command,
            env=environment,
            capture_output=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )
        result.seconds.append(time.perf_counter() - started)
        result.exit_codes.add(completed.returncode)
        result.output_bytes = len(completed.stdout)
        try:
            report = json.loads(completed.stdout)
        except ValueError:
            stderr_tail = completed.stderr.decode(errors="replace")[-400:]
            raise SystemExit(
                f"inspect exited {completed.returncode} without a JSON report: {stderr_tail}"
            ) from None
        result.verdicts.add(str(report["verdict"].get("status")))
        result.sources = dict(report["evidence_sources"])
    return result


# The library steps


@dataclass
class StepTimes:
    """Wall times per step name, in the order the steps were first recorded."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def record(self, name: str, action: Callable[[], T]) -> T:
        started = time.perf_counter()
        value = action()
        self.seconds.setdefault(name, []).append(time.perf_counter() - started)
        return value

    def timings(self, name: str) -> Timings:
        return Timings(tuple(self.seconds[name]))


def run_steps(endpoint_url: str, times: StepTimes) -> dict[str, str]:
    """Run one inspection step by step and return the status of each evidence source."""
    factory = ClientFactory(AwsOptions(region=REGION, endpoint_url=endpoint_url))
    arn = times.record("resolve execution name", lambda: resolve_execution_arn(factory, INCIDENT))

    times.record("  DescribeExecution alone", lambda: describe_execution(factory, arn))
    times.record("  GetExecutionHistory, all pages, alone", lambda: get_full_history(factory, arn))
    times.record(
        "  DescribeStateMachineForExecution alone",
        lambda: describe_state_machine_for_execution(factory, arn),
    )
    evidence = times.record(
        "collect_live (the three above, concurrent)",
        lambda: collect_live(factory, arn, progress=False),
    )
    prepared = times.record("prepare (parse_history, profile)", lambda: prepare(evidence))

    for source in ARTIFACT_SOURCES:
        plan = plan_for(evidence, prepared)
        times.record(
            f"  {source} alone",
            functools.partial(collect_artifacts, factory, evidence, plan, {source}),
        )
    # The full fetch runs last, so analyze reads the poll_results body from its start.
    plan = times.record("plan_for (artifact locations)", lambda: plan_for(evidence, prepared))
    times.record(
        "collect_artifacts (the three above, concurrent)",
        lambda: collect_artifacts(factory, evidence, plan),
    )
    report = times.record(
        "analyze (facts, checks, verdict)", lambda: analyze(evidence, prepared=prepared)
    )
    times.record("render JSON", lambda: json_output.render(report, io.StringIO()))
    return {name: status.describe() for name, status in evidence.sources.items()}


TOTAL_STEPS = (
    "resolve execution name",
    "collect_live (the three above, concurrent)",
    "prepare (parse_history, profile)",
    "plan_for (artifact locations)",
    "collect_artifacts (the three above, concurrent)",
    "analyze (facts, checks, verdict)",
    "render JSON",
)


def stage(server: MotoServer) -> float:
    started = time.perf_counter()
    staged = stage_sandbox(server.endpoint_url, REGION, scenarios=[get_scenario(INCIDENT)])
    elapsed = time.perf_counter() - started
    events = staged[0].event_count
    print(f"- staged the incident in {elapsed:.1f} s ({events} history events)")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="whole-command runs via the proxy")
    parser.add_argument(
        "--direct-runs", type=int, default=3, help="whole-command runs straight to moto"
    )
    parser.add_argument(
        "--breakdown-runs", type=int, default=3, help="timed in-process passes over the steps"
    )
    parser.add_argument("--serve-proxy", metavar="UPSTREAM_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_proxy:
        return serve_proxy(args.serve_proxy)

    print_machine("bench_inspect_sandbox")
    server = start_moto_server()
    proxy_process: subprocess.Popen[str] | None = None
    try:
        stage(server)
        proxy_process, proxy_url = start_proxy_process(server.endpoint_url)
        print(f"- moto at {server.endpoint_url}, AWS-like proxy at {proxy_url}")

        cli_results = [
            time_cli("via the AWS-like proxy (1,000 events a page)", proxy_url, args.runs),
            time_cli("straight to moto (one page)", server.endpoint_url, args.direct_runs),
        ]
        times = StepTimes()
        run_steps(proxy_url, StepTimes())
        sources: dict[str, str] = {}
        for _ in range(args.breakdown_runs):
            sources = run_steps(proxy_url, times)
        direct_history = StepTimes()
        direct_factory = ClientFactory(AwsOptions(region=REGION, endpoint_url=server.endpoint_url))
        arn = resolve_execution_arn(direct_factory, INCIDENT)
        for _ in range(args.breakdown_runs):
            direct_history.record("history", lambda: get_full_history(direct_factory, arn))
    finally:
        if proxy_process is not None:
            stop_proxy_process(proxy_process)
        server.stop()

    print_report(cli_results, times, direct_history.timings("history"), sources)
    return 0


def print_report(
    cli_results: list[CliRuns], times: StepTimes, direct_history: Timings, sources: dict[str, str]
) -> None:
    cli_rows = []
    for result in cli_results:
        timings = Timings(tuple(result.seconds))
        cli_rows.append(
            [
                result.label,
                len(result.seconds),
                format_seconds(timings.minimum),
                format_seconds(timings.median),
                format_seconds(timings.maximum),
                ", ".join(format_seconds(value) for value in result.seconds),
                ",".join(str(code) for code in sorted(result.exit_codes)),
                ",".join(sorted(result.verdicts)),
            ]
        )
    print_table(
        f"forensics -o json inspect {INCIDENT}, whole process (each run a new process)",
        ["endpoint", "runs", "min", "median", "max", "every run", "exit", "verdict"],
        cli_rows,
    )

    total = sum(times.timings(name).median for name in TOTAL_STEPS)
    step_rows = []
    for name, values in times.seconds.items():
        timings = Timings(tuple(values))
        share = f"{timings.median / total:.0%}" if name in TOTAL_STEPS else ""
        step_rows.append(
            [
                name,
                format_seconds(timings.median),
                f"{format_seconds(timings.minimum)} / {format_seconds(timings.maximum)}",
                share,
            ]
        )
    step_rows.append(["sum of the unindented steps", format_seconds(total), "", "100%"])
    step_rows.append(
        [
            "  GetExecutionHistory straight to moto, for comparison",
            format_seconds(direct_history.median),
            f"{format_seconds(direct_history.minimum)} / {format_seconds(direct_history.maximum)}",
            "",
        ]
    )
    print_table(
        "Where the time goes: library steps in-process via the proxy, warm (median of the "
        "passes); indented rows are the parts of the concurrent step below them",
        ["step", "median", "min / max", "share of sum"],
        step_rows,
    )

    cli_median = Timings(tuple(cli_results[0].seconds)).median
    print(
        f"\nEstimate of process start-up, imports and client set-up: "
        f"{format_seconds(cli_median - total)} "
        f"(whole-command median {format_seconds(cli_median)} minus the warm in-process sum)."
    )
    print("\nEvidence sources in the last pass:")
    for name, status in sources.items():
        print(f"- {name}: {status}")


if __name__ == "__main__":
    sys.exit(main())
