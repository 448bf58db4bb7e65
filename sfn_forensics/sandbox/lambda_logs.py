"""CloudWatch Logs of the ingest Lambdas, written after a run from the execution's history.

Every Lambda invocation in the history (Map iterations and retried attempts included) gets the
records AWS Lambda writes to `/aws/lambda/<function name>`: `START`, the function's application
lines, `END` and `REPORT`. All records of an invocation are timestamped inside the window from
its scheduled event to the event that ended it.

Application lines are structured JSON in the shape AWS Lambda Powertools' Logger writes (`level`,
`location`, `message`, `timestamp`, `service`, `function_request_id`, ...). Each one also carries
`execution_name`, because the history of a function ARN resource, and moto's `lambda:invoke`
result, contain no Lambda request id to tie lines to a state visit with. Process-chunk
invocations also write one Embedded Metric Format record.

Invocations of one function are spread over log streams as warm execution environments would
be: an environment runs one invocation at a time, so invocations whose windows overlap go to
different streams, and a stream takes at most MAX_INVOCATIONS_PER_STREAM of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sfn_forensics.sandbox.artifacts import normalize_poll_results
from sfn_forensics.sandbox.invocations import ExecutionRecord, LambdaInvocation
from sfn_forensics.sandbox.workflows import (
    FUNCTION_CREATE_CHUNK_GROUPS,
    FUNCTION_FINAL_MERGE,
    FUNCTION_LIST_PENDING,
    FUNCTION_MARK_BATCHES_COMPLETE,
    FUNCTION_MERGE_CHUNK_GROUP,
    FUNCTION_NORMALIZE_POLL_RESULTS,
    FUNCTION_POLL_BATCH,
    FUNCTION_PROCESS_CHUNK,
    FUNCTION_SPLIT_INTO_CHUNKS,
    function_arn,
)

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

log = logging.getLogger(__name__)

SERVICE_NAME = "embedding-ingest"
METRIC_NAMESPACE = "EmbeddingIngest"
METRIC_EMBEDDINGS_MERGED = "EmbeddingsMerged"
MEMORY_SIZE_MB = 1024
MAX_INVOCATIONS_PER_STREAM = 6
# PutLogEvents limits: events per call, and bytes per call counting 26 bytes per event.
MAX_EVENTS_PER_PUT = 10_000
MAX_BYTES_PER_PUT = 1_048_576
EVENT_OVERHEAD_BYTES = 26
_WRITER_THREADS = 4

# Max Memory Used per function in MB: (low, high), chosen per invocation from its request id.
_MEMORY_USED_MB: dict[str, tuple[int, int]] = {
    FUNCTION_LIST_PENDING: (88, 104),
    FUNCTION_POLL_BATCH: (92, 118),
    FUNCTION_NORMALIZE_POLL_RESULTS: (131, 162),
    FUNCTION_SPLIT_INTO_CHUNKS: (112, 140),
    FUNCTION_PROCESS_CHUNK: (204, 338),
    FUNCTION_CREATE_CHUNK_GROUPS: (90, 101),
    FUNCTION_MERGE_CHUNK_GROUP: (377, 529),
    FUNCTION_FINAL_MERGE: (602, 791),
    FUNCTION_MARK_BATCHES_COMPLETE: (97, 126),
}
_INIT_DURATION_MS = (348.0, 521.0)


def log_group_name(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


@dataclass(frozen=True)
class LogEvent:
    # Milliseconds since the epoch, as PutLogEvents takes them.
    timestamp: int
    message: str


@dataclass
class LogStream:
    log_group: str
    name: str
    events: list[LogEvent] = field(default_factory=list)


@dataclass(frozen=True)
class _AppLine:
    level: str
    location: str
    message: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class _RunContext:
    """Values one invocation's lines need from other invocations of the same run."""

    execution_name: str
    region: str
    account_id: str
    # Deltas per chunk from the split Lambda's output, and chunks per group from
    # CreateChunkGroups' output.
    chunk_deltas: dict[int, int]
    group_chunks: dict[int, int]


def stream_name(execution_name: str, started_at: datetime, function_name: str, ordinal: int) -> str:
    """Return the name of a function's `ordinal`-th stream for one execution.

    Lambda names streams `YYYY/MM/DD/[$LATEST]<32 hex digits>`. The date is the execution's
    start date (UTC) and the digits derive from the execution, function and ordinal, so
    re-staging can find the streams it wrote.
    """
    digits = _digest(execution_name, "stream", function_name, ordinal).hex()[:32]
    return f"{started_at.astimezone(UTC):%Y/%m/%d}/[$LATEST]{digits}"


def marker_stream(record_name: str, started_at: datetime) -> tuple[str, str]:
    """Return the (log group, stream) that staging writes last for an execution.

    Every execution calls the list function once, so its stream exists exactly when the
    execution's logs were written completely.
    """
    return (
        log_group_name(FUNCTION_LIST_PENDING),
        stream_name(record_name, started_at, FUNCTION_LIST_PENDING, 0),
    )


def build_log_streams(record: ExecutionRecord, region: str, account_id: str) -> list[LogStream]:
    """Return the log streams of every Lambda invocation in `record`, events in time order.

    Streams of the list function come last (see `marker_stream`).
    """
    # TODO: lines describe the value an iteration returned, which moto's shared response queue
    # may have built for another item, so a line can name a chunk other than the iteration's input.
    context = _run_context(record, region, account_id)
    by_function: dict[str, list[LambdaInvocation]] = {}
    for invocation in record.invocations:
        by_function.setdefault(invocation.function_name, []).append(invocation)

    streams: list[LogStream] = []
    for function_name in sorted(by_function, key=lambda name: name == FUNCTION_LIST_PENDING):
        invocations = sorted(
            by_function[function_name],
            key=lambda item: (item.scheduled_at, item.scheduled_event_id),
        )
        streams.extend(_function_streams(record, function_name, invocations, context))
    return streams


def write_log_streams(logs: CloudWatchLogsClient, streams: Sequence[LogStream]) -> int:
    """Create the groups and streams and put their events; return the number of events put.

    Streams of the list function are written after all others.
    """
    for group in dict.fromkeys(stream.log_group for stream in streams):
        _ensure_log_group(logs, group)
    marker_group = log_group_name(FUNCTION_LIST_PENDING)
    last = [stream for stream in streams if stream.log_group == marker_group]
    first = [stream for stream in streams if stream.log_group != marker_group]
    with ThreadPoolExecutor(max_workers=_WRITER_THREADS, thread_name_prefix="logs") as pool:
        written = sum(pool.map(lambda stream: _write_stream(logs, stream), first))
    written += sum(_write_stream(logs, stream) for stream in last)
    return written


def log_stream_exists(logs: CloudWatchLogsClient, group: str, stream: str) -> bool:
    try:
        found = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)
    except logs.exceptions.ResourceNotFoundException:
        return False
    return any(item.get("logStreamName") == stream for item in found.get("logStreams", []))


# --- streams and platform records ---------------------------------------------------------------


def _function_streams(
    record: ExecutionRecord,
    function_name: str,
    invocations: Sequence[LambdaInvocation],
    context: _RunContext,
) -> list[LogStream]:
    group = log_group_name(function_name)
    streams: list[LogStream] = []
    # Per stream: the end of its last invocation (ms) and how many invocations it ran.
    slots: list[list[int]] = []
    for invocation in invocations:
        start_ms, end_ms = _window_ms(invocation)
        chosen = next(
            (
                index
                for index, (last_end, count) in enumerate(slots)
                if last_end < start_ms and count < MAX_INVOCATIONS_PER_STREAM
            ),
            None,
        )
        cold_start = chosen is None
        if chosen is None:
            chosen = len(slots)
            slots.append([end_ms, 0])
            name = stream_name(record.execution_name, record.started_at, function_name, chosen)
            streams.append(LogStream(log_group=group, name=name))
        slots[chosen][0] = end_ms
        slots[chosen][1] += 1
        streams[chosen].events.extend(_invocation_events(invocation, context, cold_start))
    return streams


def _invocation_events(
    invocation: LambdaInvocation, context: _RunContext, cold_start: bool
) -> list[LogEvent]:
    request_id = _request_id(context.execution_name, invocation.scheduled_event_id)
    start_ms, end_ms = _window_ms(invocation)
    lines = _application_lines(invocation, context)
    metric = _metric_value(invocation)
    count = len(lines) + (1 if metric is not None else 0) + 3
    times = [start_ms + (end_ms - start_ms) * i // (count - 1) for i in range(count)]
    clock = iter(times)

    events = [LogEvent(next(clock), f"START RequestId: {request_id} Version: $LATEST\n")]
    base = {
        "service": SERVICE_NAME,
        "cold_start": cold_start,
        "function_name": invocation.function_name,
        "function_memory_size": str(MEMORY_SIZE_MB),
        "function_arn": function_arn(invocation.function_name, context.region, context.account_id),
        "function_request_id": request_id,
        "execution_name": context.execution_name,
    }
    for line in lines:
        moment = next(clock)
        document = {
            "level": line.level,
            "location": line.location,
            "message": line.message,
            "timestamp": _iso_ms(moment),
            **base,
            **line.fields,
        }
        events.append(LogEvent(moment, _json_line(document)))
    if metric is not None:
        moment = next(clock)
        document = _metric_document(moment, request_id, context, metric)
        events.append(LogEvent(moment, _json_line(document)))
    events.append(LogEvent(next(clock), f"END RequestId: {request_id}\n"))
    events.append(
        LogEvent(next(clock), _report_line(invocation, request_id, start_ms, end_ms, cold_start))
    )
    return events


def _report_line(
    invocation: LambdaInvocation, request_id: str, start_ms: int, end_ms: int, cold_start: bool
) -> str:
    jitter = _fraction(request_id, "duration")
    # The billed run fits inside the history's window, which also contains the invoke overhead.
    duration = max((end_ms - start_ms) * (0.72 + 0.2 * jitter), 0.41)
    low, high = _MEMORY_USED_MB.get(invocation.function_name, (96, 128))
    memory_used = low + int((high - low) * _fraction(request_id, "memory"))
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration:.2f} ms",
        f"Billed Duration: {math.ceil(duration)} ms",
        f"Memory Size: {MEMORY_SIZE_MB} MB",
        f"Max Memory Used: {memory_used} MB",
    ]
    if cold_start:
        low_init, high_init = _INIT_DURATION_MS
        init = low_init + (high_init - low_init) * _fraction(request_id, "init")
        parts.append(f"Init Duration: {init:.2f} ms")
    return "\t".join(parts) + "\t\n"


def _metric_value(invocation: LambdaInvocation) -> int | None:
    if invocation.function_name != FUNCTION_PROCESS_CHUNK or not invocation.succeeded:
        return None
    output = _mapping(invocation.output)
    value = output.get("embeddings_count")
    return value if isinstance(value, int) else None


def _metric_document(
    moment: int, request_id: str, context: _RunContext, value: int
) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": moment,
            "CloudWatchMetrics": [
                {
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": METRIC_EMBEDDINGS_MERGED, "Unit": "Count"}],
                }
            ],
        },
        "service": SERVICE_NAME,
        "function_request_id": request_id,
        "execution_name": context.execution_name,
        METRIC_EMBEDDINGS_MERGED: value,
    }


# --- application lines per function -------------------------------------------------------------


def _application_lines(invocation: LambdaInvocation, context: _RunContext) -> list[_AppLine]:
    writer = _WRITERS.get(invocation.function_name)
    return [] if writer is None else list(writer(invocation, context))


def _list_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    received = _mapping(invocation.input)
    output = _mapping(invocation.output)
    batch_type = received.get("batch_type", "word")
    yield _info("list_pending:38", "Listing pending batches", batch_type=batch_type)
    total = output.get("total_batches", 0)
    yield _info(
        "list_pending:71",
        f"Found {total} pending {batch_type} batches",
        batch_type=batch_type,
        pending_batches=total,
    )


def _poll_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    output = _mapping(invocation.output)
    fields: dict[str, Any] = {
        "batch_id": output.get("batch_id"),
        "openai_batch_id": output.get("openai_batch_id"),
        "batch_status": output.get("batch_status"),
        "embedding_count": output.get("embedding_count"),
    }
    if output.get("result_s3_key") is not None:
        fields["result_s3_key"] = output["result_s3_key"]
    yield _info("poll_batch:112", "Polled batch", **fields)


def _normalize_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    received = _mapping(invocation.input)
    output = _mapping(invocation.output)
    entries, skipped = normalize_poll_results(received.get("poll_results") or [])
    for result in skipped:
        batch_id = _mapping(result).get("batch_id")
        yield _AppLine(
            "WARNING",
            "normalize_poll_results:64",
            f"Skipping invalid S3 reference for batch {batch_id}",
            {"batch_id": batch_id, "result_s3_key": _mapping(result).get("result_s3_key")},
        )
    yield _info(
        "normalize_poll_results:97",
        "Wrote poll results",
        entries=len(entries),
        poll_results_s3_key=output.get("poll_results_s3_key"),
        poll_results_s3_bucket=output.get("poll_results_s3_bucket"),
    )


def _split_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    output = _mapping(invocation.output)
    chunks = output.get("chunks") or []
    deltas = sum(int(_mapping(chunk).get("delta_count") or 0) for chunk in chunks)
    yield _info("split_into_chunks:45", "Read deltas from poll results", total_deltas=deltas)
    yield _info(
        "split_into_chunks:88",
        f"Split {deltas} deltas into {len(chunks)} chunks",
        total_deltas=deltas,
        total_chunks=output.get("total_chunks", len(chunks)),
        chunk_size=output.get("chunk_size"),
    )


def _process_chunk_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    output = _mapping(invocation.output)
    chunk_index = output.get("chunk_index")
    if not isinstance(chunk_index, int):
        chunk_index = _mapping(_mapping(invocation.input).get("chunk")).get("chunk_index")
    total = context.chunk_deltas.get(chunk_index, 0) if isinstance(chunk_index, int) else 0
    yield _info("process_chunk:57", "Processing chunk", chunk_index=chunk_index, delta_count=total)
    merged = output.get("deltas_merged")
    if isinstance(merged, int) and merged < total:
        yield _AppLine(
            "WARNING",
            "process_chunk:83",
            f"Chunk {chunk_index} has {total} deltas, processing first {merged}",
            {"chunk_index": chunk_index, "deltas_total": total, "deltas_processed": merged},
        )
    if invocation.succeeded:
        yield _info(
            "process_chunk:131",
            "Chunk merged",
            chunk_index=chunk_index,
            intermediate_key=output.get("intermediate_key"),
            embeddings_merged=output.get("embeddings_count"),
            deltas_merged=merged,
        )


def _create_groups_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    received = _mapping(invocation.input)
    output = _mapping(invocation.output)
    total_groups = output.get("total_groups")
    yield _info(
        "create_chunk_groups:40",
        f"Created {total_groups} chunk groups",
        total_chunks=len(received.get("chunk_results") or []),
        total_groups=total_groups,
        group_size=output.get("group_size"),
    )


def _merge_group_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    output = _mapping(invocation.output)
    group_index = output.get("group_index")
    if not isinstance(group_index, int):
        group_index = _mapping(_mapping(invocation.input).get("group")).get("group_index")
    total = context.group_chunks.get(group_index, 0) if isinstance(group_index, int) else 0
    yield _info("merge_chunk_group:49", "Merging group", group_index=group_index, chunk_count=total)
    if output.get("statusCode") != 200:
        error = output.get("error", "unknown error")
        yield _AppLine(
            "ERROR",
            "merge_chunk_group:152",
            f"Group merge failed: {error}",
            {"group_index": group_index, "error": error},
        )
        yield _AppLine(
            "WARNING",
            "merge_chunk_group:158",
            "Returning error response instead of raising",
            {"group_index": group_index, "status_code": output.get("statusCode")},
        )
        return
    merged = output.get("chunks_merged")
    if isinstance(merged, int) and merged < total:
        yield _AppLine(
            "WARNING",
            "merge_chunk_group:77",
            f"Group {group_index} has {total} chunks, processing first {merged}",
            {"group_index": group_index, "chunks_total": total, "chunks_processed": merged},
        )
    yield _info(
        "merge_chunk_group:134",
        "Group merged",
        group_index=group_index,
        intermediate_key=output.get("intermediate_key"),
        total_embeddings=output.get("embeddings_count"),
        chunks_merged=merged,
    )


def _final_merge_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    received = _mapping(invocation.input)
    inputs = received.get("merge_inputs") or []
    yield _info(
        "final_merge:61",
        f"Starting final merge of {len(inputs)} inputs",
        merge_level=received.get("merge_level"),
        inputs=len(inputs),
        database=received.get("database"),
    )
    if not invocation.succeeded:
        message = _error_message(invocation.cause) or invocation.cause or ""
        yield _AppLine(
            "ERROR",
            "final_merge:203",
            f"Final merge failed: {invocation.error}: {message}",
            {"error_type": invocation.error},
        )
        return
    output = _mapping(invocation.output)
    yield _info(
        "final_merge:188",
        "Final merge complete",
        total_embeddings=output.get("total_embeddings"),
        snapshot_key=output.get("snapshot_key"),
        inputs_merged=output.get("inputs_merged"),
    )


def _mark_complete_lines(invocation: LambdaInvocation, context: _RunContext) -> Iterator[_AppLine]:
    output = _mapping(invocation.output)
    marked = output.get("batches_marked")
    yield _info(
        "mark_batches_complete:52", f"Marked {marked} batches complete", batches_marked=marked
    )


_WRITERS: dict[str, Callable[[LambdaInvocation, _RunContext], Iterator[_AppLine]]] = {
    FUNCTION_LIST_PENDING: _list_lines,
    FUNCTION_POLL_BATCH: _poll_lines,
    FUNCTION_NORMALIZE_POLL_RESULTS: _normalize_lines,
    FUNCTION_SPLIT_INTO_CHUNKS: _split_lines,
    FUNCTION_PROCESS_CHUNK: _process_chunk_lines,
    FUNCTION_CREATE_CHUNK_GROUPS: _create_groups_lines,
    FUNCTION_MERGE_CHUNK_GROUP: _merge_group_lines,
    FUNCTION_FINAL_MERGE: _final_merge_lines,
    FUNCTION_MARK_BATCHES_COMPLETE: _mark_complete_lines,
}


# --- writing ------------------------------------------------------------------------------------


def _ensure_log_group(logs: CloudWatchLogsClient, group: str) -> None:
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        return
    log.info("created log group %s", group)


def _write_stream(logs: CloudWatchLogsClient, stream: LogStream) -> int:
    try:
        logs.create_log_stream(logGroupName=stream.log_group, logStreamName=stream.name)
    except logs.exceptions.ResourceAlreadyExistsException:
        # Left by a staging that stopped while writing: replace it rather than add duplicates.
        logs.delete_log_stream(logGroupName=stream.log_group, logStreamName=stream.name)
        logs.create_log_stream(logGroupName=stream.log_group, logStreamName=stream.name)
        log.info("replaced log stream %s in %s", stream.name, stream.log_group)
    events = sorted(stream.events, key=lambda event: event.timestamp)
    for batch in _put_batches(events):
        logs.put_log_events(
            logGroupName=stream.log_group,
            logStreamName=stream.name,
            logEvents=[{"timestamp": event.timestamp, "message": event.message} for event in batch],
        )
    return len(events)


def _put_batches(events: Sequence[LogEvent]) -> Iterator[list[LogEvent]]:
    """Split time-ordered events into PutLogEvents calls within the count and size limits."""
    batch: list[LogEvent] = []
    size = 0
    for event in events:
        event_size = len(event.message.encode()) + EVENT_OVERHEAD_BYTES
        if batch and (len(batch) >= MAX_EVENTS_PER_PUT or size + event_size > MAX_BYTES_PER_PUT):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        yield batch


# --- helpers ------------------------------------------------------------------------------------


def _run_context(record: ExecutionRecord, region: str, account_id: str) -> _RunContext:
    chunk_deltas: dict[int, int] = {}
    for chunk in _mapping(record.last_output(FUNCTION_SPLIT_INTO_CHUNKS)).get("chunks") or []:
        chunk = _mapping(chunk)
        if isinstance(chunk.get("chunk_index"), int):
            chunk_deltas[chunk["chunk_index"]] = int(chunk.get("delta_count") or 0)
    group_chunks: dict[int, int] = {}
    for group in _mapping(record.last_output(FUNCTION_CREATE_CHUNK_GROUPS)).get("groups") or []:
        group = _mapping(group)
        if isinstance(group.get("group_index"), int):
            group_chunks[group["group_index"]] = len(group.get("chunk_indices") or [])
    return _RunContext(
        execution_name=record.execution_name,
        region=region,
        account_id=account_id,
        chunk_deltas=chunk_deltas,
        group_chunks=group_chunks,
    )


def _info(location: str, message: str, **fields: Any) -> _AppLine:
    return _AppLine("INFO", location, message, fields)


def _window_ms(invocation: LambdaInvocation) -> tuple[int, int]:
    start = _epoch_ms(invocation.scheduled_at)
    return start, max(start, _epoch_ms(invocation.ended_at))


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso_ms(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _json_line(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), default=str) + "\n"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _error_message(cause: str | None) -> str | None:
    """Return `errorMessage` from a Lambda error cause (JSON text), when it has one."""
    if not cause:
        return None
    try:
        parsed = json.loads(cause)
    except ValueError:
        return None
    message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
    return message if isinstance(message, str) else None


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()


def _request_id(execution_name: str, scheduled_event_id: int) -> str:
    digest = _digest(execution_name, "request", scheduled_event_id)
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _fraction(request_id: str, purpose: str) -> float:
    """Return a number in [0, 1) that depends only on the request id and the purpose."""
    return int.from_bytes(_digest(request_id, purpose)[:8], "big") / 2**64
