"""Write the evidence a staged run leaves beside its history: S3 objects and Lambda logs.

Order per execution: poll_results.json, the snapshot (files, `.snapshot_hash`, pointer), the
log streams of every function but the list function, and last the list function's stream.
That stream therefore marks an execution whose evidence is complete (`evidence_written`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.artifacts import poll_results_from_history, write_poll_results
from sfn_forensics.sandbox.invocations import ExecutionRecord, read_execution_record
from sfn_forensics.sandbox.lambda_logs import (
    build_log_streams,
    log_stream_exists,
    marker_stream,
    write_log_streams,
)
from sfn_forensics.sandbox.scenarios import VECTORS_BUCKET, Scenario
from sfn_forensics.sandbox.snapshots import SnapshotBuilder, SnapshotSpec, upload_snapshot
from sfn_forensics.sandbox.workflows import FUNCTION_FINAL_MERGE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WrittenEvidence:
    """The evidence staging wrote for one execution, and the time it took."""

    log_events: int
    log_streams: int
    poll_results_key: str | None
    poll_results_entries: int | None
    poll_results_skipped: int | None
    snapshot_prefix: str | None
    snapshot_objects: int | None
    snapshot_embeddings: int | None
    # Seconds the snapshot took to build in the worker process (it overlaps the executions).
    snapshot_build_seconds: float | None
    # Seconds spent writing after the execution stopped, waiting for the snapshot included.
    write_seconds: float


def snapshot_spec(scenario: Scenario) -> SnapshotSpec | None:
    """Return the content of the scenario's snapshot, or None when no final merge succeeds."""
    if not scenario.writes_snapshot:
        return None
    plan = scenario.plan
    return SnapshotSpec(
        execution_name=scenario.execution_name,
        database=plan.database,
        batches=tuple((batch.batch_id, batch.embedding_count) for batch in plan.snapshot_deltas()),
    )


def ensure_bucket(s3: S3Client, region: str, bucket: str = VECTORS_BUCKET) -> None:
    """Create the vectors bucket unless it exists."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(
            Bucket=bucket,
            CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
        )
    log.info("created bucket %s", bucket)


def evidence_written(logs: CloudWatchLogsClient, execution_name: str, started_at: datetime) -> bool:
    """Return True when an earlier staging wrote the execution's evidence completely."""
    group, stream = marker_stream(execution_name, started_at)
    return log_stream_exists(logs, group, stream)


def write_evidence(
    *,
    s3: S3Client,
    logs: CloudWatchLogsClient,
    scenario: Scenario,
    events: Sequence[Mapping[str, Any]],
    builder: SnapshotBuilder,
    region: str,
    account_id: str,
) -> WrittenEvidence:
    """Write poll_results.json, the snapshot and the Lambda logs of a stopped execution.

    Raises SandboxError when the history disagrees with the scenario: another poll_results key,
    or a final merge total that differs from the snapshot built for the scenario.
    """
    started = time.monotonic()
    record = read_execution_record(scenario.execution_name, events)

    poll_results = poll_results_from_history(record)
    if poll_results is not None:
        if poll_results.key != scenario.poll_results_s3_key():
            raise SandboxError(
                f"execution {scenario.execution_name} wrote its poll results to "
                f"{poll_results.key}, expected {scenario.poll_results_s3_key()}"
            )
        write_poll_results(s3, poll_results)

    snapshot_prefix = None
    snapshot_objects = None
    snapshot_embeddings = None
    build_seconds = None
    spec = snapshot_spec(scenario)
    if spec is not None:
        builder.submit(scenario.execution_name, spec)
        built = builder.result(scenario.execution_name)
        snapshot_prefix, finished_at = _final_merge_result(record, built.total_embeddings)
        uploaded = upload_snapshot(
            s3, VECTORS_BUCKET, snapshot_prefix, scenario.execution_name, built, finished_at
        )
        snapshot_objects = len(uploaded.keys)
        snapshot_embeddings = built.total_embeddings
        build_seconds = built.build_seconds

    streams = build_log_streams(record, region, account_id)
    log_events = write_log_streams(logs, streams)
    written = WrittenEvidence(
        log_events=log_events,
        log_streams=len(streams),
        poll_results_key=None if poll_results is None else poll_results.key,
        poll_results_entries=None if poll_results is None else len(poll_results.entries),
        poll_results_skipped=None if poll_results is None else len(poll_results.skipped),
        snapshot_prefix=snapshot_prefix,
        snapshot_objects=snapshot_objects,
        snapshot_embeddings=snapshot_embeddings,
        snapshot_build_seconds=build_seconds,
        write_seconds=time.monotonic() - started,
    )
    log.info(
        "evidence of %s written in %.1f s: %d log events in %d streams, poll results %s, "
        "snapshot %s",
        scenario.execution_name,
        written.write_seconds,
        log_events,
        len(streams),
        written.poll_results_key or "none",
        snapshot_prefix or "none",
    )
    return written


def _final_merge_result(record: ExecutionRecord, built_total: int) -> tuple[str, datetime]:
    """Return the snapshot_key the final merge returned and when it succeeded."""
    merges = [item for item in record.of_function(FUNCTION_FINAL_MERGE) if item.succeeded]
    if not merges:
        raise SandboxError(
            f"execution {record.execution_name} has no successful final merge, but its "
            "scenario writes a snapshot"
        )
    merge = merges[-1]
    output = merge.output if isinstance(merge.output, dict) else {}
    snapshot_key = output.get("snapshot_key")
    total = output.get("total_embeddings")
    if not isinstance(snapshot_key, str) or total != built_total:
        raise SandboxError(
            f"execution {record.execution_name}: the final merge returned snapshot_key "
            f"{snapshot_key!r} and total_embeddings {total!r}, but the snapshot built for the "
            f"scenario contains {built_total} embeddings"
        )
    return snapshot_key, merge.ended_at
