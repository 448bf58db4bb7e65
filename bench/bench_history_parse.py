"""Benchmark `parse_history`, `track_key_drops` and the offline analysis on synthetic histories.

Run: .venv/bin/python bench/bench_history_parse.py [--runs 5] [--sizes 3500,25000,100000]

Each history is an ingest-like run built in code: a Lambda task, an inline Map whose iterations
each run one Lambda task (7 events per iteration), a final merge task, a Pass state that drops
`final_merge_result`, and a last task. Up to `--concurrency` iterations run at once and their
events interleave in a seeded random order, as concurrent iterations do in a real history.
Timestamps are `datetime` objects, as boto3 returns them.

Two variants of the iteration task are measured. `function` uses a function ARN as the Resource,
so the events are LambdaFunctionScheduled/Started/Succeeded, as in the reproduced incident.
`invoke` uses `arn:aws:states:::lambda:invoke` with AWS's result envelope, whose
`SdkResponseMetadata.RequestId` makes the parser decode every TaskSucceeded output.

The tables show:
- `parse_history`: median wall time, events per second, the median with the garbage collector
  off, and peak traced memory from a separate run;
- `track_key_drops` on the parsed run;
- `analyze()` with the matching definition and no logs or S3 objects;
- `analyze_logs` on synthetic logs of the poll function.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import random
import sys
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmark_support import (
    format_bytes,
    format_seconds,
    print_machine,
    print_table,
    time_runs,
)

from sfn_forensics.analysis import analyze
from sfn_forensics.evidence.model import (
    SOURCE_DEFINITION,
    SOURCE_HISTORY,
    SOURCE_LOGS,
    Evidence,
    LogGroupPlan,
    SourceStatus,
)
from sfn_forensics.facts.logs import LogFacts, analyze_logs
from sfn_forensics.history.dataflow import track_key_drops
from sfn_forensics.history.model import ExecutionRun
from sfn_forensics.history.parser import parse_history

REGION = "us-east-1"
ACCOUNT = "123456789012"
EXECUTION_NAME = "run"
POLL_FUNCTION = "embedding-poll-batch"
POLL_LOG_GROUP = f"/aws/lambda/{POLL_FUNCTION}"
MAP_NAME = "PollBatches"
ITERATION_TASK = "PollBatch"
EVENTS_PER_ITERATION = 7
# Events outside the Map iterations: the execution events, three 5-event tasks, one Pass state
# and the Map's own Entered/Started/Succeeded/Exited events.
FIXED_EVENTS = 2 + 3 * 5 + 2 + 4
T0 = datetime(2025, 11, 17, 16, 0, 0, tzinfo=UTC)
VARIANTS = ("function", "invoke")


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def iterations_for(event_count: int) -> int:
    """Return the Map size whose history has about `event_count` events."""
    return max(1, round((event_count - FIXED_EVENTS) / EVENTS_PER_ITERATION))


def _compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


def _details_key(event_type: str) -> str:
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


@dataclass
class _Iteration:
    """The events of one Map iteration, emitted one at a time as (type, details) pairs."""

    index: int
    steps: list[tuple[str, dict[str, Any] | None]]
    position: int = 0
    last_event_id: int = 0
    # Id of the TaskStateExited event, which the next iteration in this slot links to.
    exited_event_id: int = 0

    @property
    def done(self) -> bool:
        return self.position == len(self.steps)


@dataclass
class HistoryBuilder:
    """GetExecutionHistory events with ids, links and timestamps assigned in emission order."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, event_type: str, previous: int, details: dict[str, Any] | None = None) -> int:
        event_id = len(self.events) + 1
        event: dict[str, Any] = {
            "timestamp": T0 + timedelta(milliseconds=10 * event_id),
            "type": event_type,
            "id": event_id,
            "previousEventId": previous,
        }
        if details is not None:
            event[_details_key(event_type)] = details
        self.events.append(event)
        return event_id

    def enter(self, state_type: str, name: str, previous: int, document: Any) -> int:
        details = {"name": name, "input": _compact(document), "inputDetails": {"truncated": False}}
        return self.add(f"{state_type}StateEntered", previous, details)

    def exit(self, state_type: str, name: str, previous: int, document: Any) -> int:
        details = {
            "name": name,
            "output": _compact(document),
            "outputDetails": {"truncated": False},
        }
        return self.add(f"{state_type}StateExited", previous, details)

    def function_task(self, name: str, previous: int, document: Any, output: Any) -> int:
        """Add a Task state whose Resource is a function ARN. Return its exit event id."""
        last = self.enter("Task", name, previous, document)
        for event_type, details in _function_steps(name, document, output):
            last = self.add(event_type, last, details)
        return self.exit("Task", name, last, output)


def _function_steps(
    function: str, payload: Any, result: Any
) -> list[tuple[str, dict[str, Any] | None]]:
    return [
        (
            "LambdaFunctionScheduled",
            {
                "input": _compact(payload),
                "inputDetails": {"truncated": False},
                "resource": function_arn(function),
            },
        ),
        ("LambdaFunctionStarted", None),
        (
            "LambdaFunctionSucceeded",
            {"output": _compact(result), "outputDetails": {"truncated": False}},
        ),
    ]


def _invoke_steps(
    function: str, payload: Any, result: Any, request_id: str
) -> list[tuple[str, dict[str, Any] | None]]:
    envelope = {
        "ExecutedVersion": "$LATEST",
        "Payload": result,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {"X-Amz-Executed-Version": ["$LATEST"]},
            "HttpHeaders": {"x-amzn-RequestId": request_id},
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }
    resource = {"resource": "invoke", "resourceType": "lambda"}
    parameters = {"FunctionName": function_arn(function), "Payload": payload}
    return [
        (
            "TaskScheduled",
            {**resource, "region": REGION, "parameters": _compact(parameters)},
        ),
        ("TaskStarted", dict(resource)),
        (
            "TaskSucceeded",
            {**resource, "output": _compact(envelope), "outputDetails": {"truncated": False}},
        ),
    ]


def _iteration(index: int, variant: str) -> _Iteration:
    batch_id = f"{index:08x}-5c1e-4a7b-9d2f-{index:012x}"
    item = {"batch_id": batch_id, "openai_batch_id": f"batch_{index:032x}"}
    result = {
        "batch_id": batch_id,
        "batch_status": "completed",
        "result_s3_key": f"words/delta/{batch_id}/",
        "embedding_count": 100 + index % 97,
    }
    function = POLL_FUNCTION
    if variant == "function":
        task_steps = _function_steps(function, item, result)
    else:
        task_steps = _invoke_steps(function, item, result, f"{index:08x}-0000-4000-8000-bench")
    marker = {"index": index, "name": MAP_NAME}
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("MapIterationStarted", marker),
        (
            "TaskStateEntered",
            {"name": ITERATION_TASK, "input": _compact(item), "inputDetails": {"truncated": False}},
        ),
        *task_steps,
        (
            "TaskStateExited",
            {
                "name": ITERATION_TASK,
                "output": _compact(result),
                "outputDetails": {"truncated": False},
            },
        ),
        ("MapIterationSucceeded", dict(marker)),
    ]
    return _Iteration(index=index, steps=steps)


def _add_interleaved_map(
    builder: HistoryBuilder,
    map_started: int,
    iterations: int,
    concurrency: int,
    variant: str,
    rng: random.Random,
) -> int:
    """Add every iteration's events, interleaved. Return the last TaskStateExited event id.

    An iteration that starts in a free slot links its MapIterationStarted to the last state
    event of the iteration that freed the slot, as AWS links consecutive iterations. The first
    `concurrency` iterations link to MapStateStarted.
    """
    pending = iter(range(iterations))
    active: list[_Iteration] = []
    for _ in range(min(concurrency, iterations)):
        iteration = _iteration(next(pending), variant)
        iteration.last_event_id = map_started
        active.append(iteration)

    last_exit = map_started
    while active:
        slot = rng.randrange(len(active))
        iteration = active[slot]
        event_type, details = iteration.steps[iteration.position]
        previous = iteration.last_event_id
        if event_type == "MapIterationSucceeded":
            previous = iteration.exited_event_id
        event_id = builder.add(event_type, previous, details)
        iteration.position += 1
        if event_type == "TaskStateExited":
            iteration.exited_event_id = event_id
            last_exit = event_id
        if event_type != "MapIterationSucceeded":
            iteration.last_event_id = event_id
        if iteration.done:
            next_index = next(pending, None)
            if next_index is None:
                active.pop(slot)
            else:
                successor = _iteration(next_index, variant)
                successor.last_event_id = iteration.exited_event_id
                active[slot] = successor
    return last_exit


def build_history(iterations: int, variant: str, concurrency: int, seed: int = 7) -> list[Any]:
    """Build the synthetic history, whose one expected key drop is final_merge_result."""
    rng = random.Random(seed)
    builder = HistoryBuilder()
    document: dict[str, Any] = {"batch_type": "word", "requested_by": "benchmark"}
    builder.add(
        "ExecutionStarted",
        0,
        {
            "input": _compact(document),
            "inputDetails": {"truncated": False},
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/benchmark",
        },
    )

    listed = {**document, "list_result": {"total_batches": iterations}}
    last = builder.function_task("ListPendingBatches", 0, document, listed)

    map_entered = builder.enter("Map", MAP_NAME, last, listed)
    map_started = builder.add("MapStateStarted", map_entered, {"length": iterations})
    last = _add_interleaved_map(builder, map_started, iterations, concurrency, variant, rng)
    builder.add("MapStateSucceeded", last)
    polled = {**listed, "poll_summary": {"batches_polled": iterations}}
    last = builder.exit("Map", MAP_NAME, last, polled)

    merged = {
        **polled,
        "final_merge_result": {"statusCode": 200, "total_embeddings": 100 * iterations},
    }
    last = builder.function_task("FinalMerge", last, polled, merged)
    prepared = {key: value for key, value in merged.items() if key != "final_merge_result"}
    last = builder.exit(
        "Pass",
        "PrepareMarkComplete",
        builder.enter("Pass", "PrepareMarkComplete", last, merged),
        prepared,
    )
    marked = {**prepared, "mark_result": {"batches_marked": iterations}}
    last = builder.function_task("MarkBatchesComplete", last, prepared, marked)
    builder.add(
        "ExecutionSucceeded",
        last,
        {"output": _compact(marked), "outputDetails": {"truncated": False}},
    )
    return builder.events


def build_definition(variant: str, concurrency: int) -> dict[str, Any]:
    """Return the ASL definition that would produce the synthetic history."""

    def task(name: str, next_state: str | None, result_path: str) -> dict[str, Any]:
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": function_arn(name),
            "ResultPath": result_path,
        }
        state.update({"Next": next_state} if next_state else {"End": True})
        return state

    if variant == "function":
        iteration_task: dict[str, Any] = {
            "Type": "Task",
            "Resource": function_arn(POLL_FUNCTION),
            "End": True,
        }
    else:
        iteration_task = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function_arn(POLL_FUNCTION), "Payload.$": "$"},
            "End": True,
        }
    return {
        "StartAt": "ListPendingBatches",
        "States": {
            "ListPendingBatches": task("ListPendingBatches", MAP_NAME, "$.list_result"),
            MAP_NAME: {
                "Type": "Map",
                "ItemsPath": "$.list_result.pending_batches",
                "MaxConcurrency": concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": ITERATION_TASK,
                    "States": {ITERATION_TASK: iteration_task},
                },
                "ResultPath": "$.poll_summary",
                "Next": "FinalMerge",
            },
            "FinalMerge": task("FinalMerge", "PrepareMarkComplete", "$.final_merge_result"),
            "PrepareMarkComplete": {
                "Type": "Pass",
                "Parameters": {
                    "batch_type.$": "$.batch_type",
                    "requested_by.$": "$.requested_by",
                    "list_result.$": "$.list_result",
                    "poll_summary.$": "$.poll_summary",
                },
                "Next": "MarkBatchesComplete",
            },
            "MarkBatchesComplete": task("MarkBatchesComplete", None, "$.mark_result"),
        },
    }


def _evidence(events: list[Any], definition: dict[str, Any]) -> Evidence:
    return Evidence(
        execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:benchmark:{EXECUTION_NAME}",
        execution_name=EXECUTION_NAME,
        describe_execution=None,
        events=events,
        definition=definition,
        sources={
            SOURCE_HISTORY: SourceStatus.available(f"{len(events)} events"),
            SOURCE_DEFINITION: SourceStatus.available("benchmark"),
        },
        origin="file",
    )


def build_poll_logs(events: list[Any], execution_name: str) -> list[dict[str, Any]]:
    """Build FilterLogEvents events for every iteration's poll invocation.

    Each invocation writes START, one structured INFO line with its batch id, END and REPORT,
    in its own log stream, between the LambdaFunctionStarted (or TaskStarted) and the
    LambdaFunctionSucceeded (or TaskSucceeded) event of its iteration. The request id is the
    one in the `invoke` variant's result envelope, so that variant can tie by request id.
    """
    by_id = {event["id"]: event for event in events}
    log_events: list[dict[str, Any]] = []
    for event in events:
        if event["type"] not in ("LambdaFunctionSucceeded", "TaskSucceeded"):
            continue
        started = by_id[event["previousEventId"]]
        entered = by_id[by_id[started["previousEventId"]]["previousEventId"]]
        if entered["stateEnteredEventDetails"]["name"] != ITERATION_TASK:
            continue
        item = json.loads(entered["stateEnteredEventDetails"]["input"])
        index = int(item["batch_id"][:8], 16)
        request_id = f"{index:08x}-0000-4000-8000-bench"
        start_ms = int(started["timestamp"].timestamp() * 1000) + 1
        end_ms = int(event["timestamp"].timestamp() * 1000) - 1
        stream = f"2025/11/17/[$LATEST]{index:032x}"
        application = {
            "level": "INFO",
            "location": "poll_batch:112",
            "message": "Polled batch",
            "function_request_id": request_id,
            "execution_name": execution_name,
            "batch_id": item["batch_id"],
            "openai_batch_id": item["openai_batch_id"],
            "embedding_count": 100 + index % 97,
        }
        messages = [
            f"START RequestId: {request_id} Version: $LATEST\n",
            _compact(application) + "\n",
            f"END RequestId: {request_id}\n",
            f"REPORT RequestId: {request_id}\tDuration: 2.00 ms\tBilled Duration: 3 ms\t"
            "Memory Size: 512 MB\tMax Memory Used: 98 MB\t\n",
        ]
        for offset, message in enumerate(messages):
            moment = start_ms + (end_ms - start_ms) * offset // (len(messages) - 1)
            log_events.append(
                {
                    "logStreamName": stream,
                    "timestamp": moment,
                    "message": message,
                    "ingestionTime": moment + 500,
                    "eventId": f"{index:020d}{offset}",
                }
            )
    log_events.sort(key=lambda log_event: log_event["timestamp"])
    return log_events


def _analyze_offline(events: list[Any], definition: dict[str, Any]) -> None:
    analyze(_evidence(events, definition))


def _evidence_with_logs(events: list[Any], log_events: list[dict[str, Any]]) -> Evidence:
    evidence = _evidence(events, {})
    evidence.log_events = {POLL_LOG_GROUP: log_events}
    evidence.log_plan = [LogGroupPlan(POLL_LOG_GROUP, POLL_FUNCTION, (ITERATION_TASK,))]
    evidence.sources[SOURCE_LOGS] = SourceStatus.available(f"{len(log_events)} events")
    return evidence


def _correct_ties(facts: LogFacts, run: ExecutionRun) -> int:
    """Count the log lines tied to the visit of the iteration whose request id they carry."""
    visit_of_index = {
        visit.iteration_index: visit.entered_event_id for visit in run.visits_of(ITERATION_TASK)
    }
    correct = 0
    for tie in facts.ties:
        request_id = tie.line.request_id
        if request_id is None or tie.visit_entered_event_id is None:
            continue
        if visit_of_index.get(int(request_id[:8], 16)) == tie.visit_entered_event_id:
            correct += 1
    return correct


def _check_run(events: list[Any], iterations: int, variant: str) -> None:
    """Stop the benchmark when the parser's result does not match the generated history."""
    run = parse_history(events)
    maps = run.maps_of(MAP_NAME)
    problems: list[str] = []
    if run.event_count != len(events):
        problems.append(f"event_count {run.event_count} != {len(events)}")
    if run.status != "SUCCEEDED":
        problems.append(f"status {run.status}")
    if len(maps) != 1 or maps[0].iterations_succeeded != iterations:
        problems.append(f"Map visits {[m.iterations_succeeded for m in maps]} != [{iterations}]")
    tasks = run.visits_of(ITERATION_TASK)
    placed = sorted(visit.iteration_index for visit in tasks if visit.iteration_index is not None)
    if placed != list(range(iterations)):
        problems.append("iteration tasks are not placed one per iteration index")
    request_ids = sum(len(visit.lambda_request_ids) for visit in tasks)
    expected_ids = iterations if variant == "invoke" else 0
    if request_ids != expected_ids:
        problems.append(f"{request_ids} Lambda request ids, expected {expected_ids}")
    drops = [(drop.key, drop.dropping_state) for drop in track_key_drops(run)]
    if drops != [("final_merge_result", "PrepareMarkComplete")]:
        problems.append(f"key drops {drops}")
    if problems:
        raise SystemExit(
            "parse result does not match the generated history: " + "; ".join(problems)
        )


def _parse_without_gc(events: list[Any]) -> None:
    gc.disable()
    try:
        parse_history(events)
    finally:
        gc.enable()


def _peak_traced_bytes(events: list[Any]) -> int:
    tracemalloc.start()
    try:
        parse_history(events)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    parser.add_argument(
        "--analyze-runs", type=int, default=3, help="timed runs of the offline analysis"
    )
    parser.add_argument(
        "--sizes",
        default="3500,25000,100000",
        help="comma-separated target event counts",
    )
    parser.add_argument(
        "--concurrency", type=int, default=25, help="Map iterations running at once"
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]

    print_machine("bench_history_parse")
    print(
        f"- runs per measurement: {args.runs} (analysis: {args.analyze_runs}); "
        f"Map concurrency {args.concurrency}"
    )

    parse_rows: list[list[object]] = []
    analysis_rows: list[list[object]] = []
    log_rows: list[list[object]] = []
    for size in sizes:
        iterations = iterations_for(size)
        for variant in VARIANTS:
            events = build_history(iterations, variant, args.concurrency)
            _check_run(events, iterations, variant)
            json_bytes = len(json.dumps(events, default=str))
            parsed = time_runs(functools.partial(parse_history, events), args.runs)
            parsed_without_gc = time_runs(functools.partial(_parse_without_gc, events), args.runs)
            run = parse_history(events)
            drops = time_runs(functools.partial(track_key_drops, run), args.runs)
            peak = _peak_traced_bytes(events)
            parse_rows.append(
                [
                    f"{len(events):,}",
                    variant,
                    format_bytes(json_bytes),
                    format_seconds(parsed.median),
                    f"{format_seconds(parsed.minimum)} / {format_seconds(parsed.maximum)}",
                    f"{len(events) / parsed.median:,.0f}",
                    format_seconds(parsed_without_gc.median),
                    format_bytes(peak),
                    format_seconds(drops.median),
                ]
            )
            definition = build_definition(variant, args.concurrency)
            analysis = time_runs(
                functools.partial(_analyze_offline, events, definition),
                args.analyze_runs,
            )
            report = analyze(_evidence(events, definition))
            analysis_rows.append(
                [
                    f"{len(events):,}",
                    variant,
                    format_seconds(analysis.median),
                    f"{format_seconds(analysis.minimum)} / {format_seconds(analysis.maximum)}",
                    f"{analysis.median / parsed.median:.1f}x",
                    report.verdict.status,
                    len(report.findings),
                ]
            )
            log_events = build_poll_logs(events, EXECUTION_NAME)
            log_evidence = _evidence_with_logs(events, log_events)
            log_timings = time_runs(
                functools.partial(analyze_logs, log_evidence, run),
                args.analyze_runs,
            )
            facts = analyze_logs(log_evidence, run)
            assert facts is not None
            log_rows.append(
                [
                    f"{len(events):,}",
                    variant,
                    f"{len(log_events):,}",
                    format_seconds(log_timings.median),
                    f"{format_seconds(log_timings.minimum)} / "
                    f"{format_seconds(log_timings.maximum)}",
                    f"{len(log_events) / log_timings.median:,.0f}",
                    ", ".join(f"{name} {count:,}" for name, count in sorted(facts.methods.items())),
                    f"{_correct_ties(facts, run):,}",
                ]
            )
            print(f"  measured {len(events):,} events ({variant})", file=sys.stderr)

    print_table(
        "parse_history and track_key_drops (wall time, median of the runs)",
        [
            "events",
            "variant",
            "history as JSON",
            "parse median",
            "parse min / max",
            "events/s",
            "parse, gc off",
            "parse peak traced",
            "track_key_drops",
        ],
        parse_rows,
    )
    print_table(
        "analyze() offline: parse, profile, checks and report (no AWS calls)",
        ["events", "variant", "median", "min / max", "x parse", "verdict", "findings"],
        analysis_rows,
    )
    print_table(
        "analyze_logs: parse and tie synthetic poll Lambda logs to Map iterations",
        [
            "events",
            "variant",
            "log lines",
            "median",
            "min / max",
            "lines/s",
            "tied by",
            "tied to the right visit",
        ],
        log_rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
