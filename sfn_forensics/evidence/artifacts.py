"""Fetch the evidence beside the history: Lambda logs, poll_results.json and the snapshot.

The sources are fetched concurrently, and each ends up `ok` or `unavailable: <reason>`. A failure
here never stops the inspection, because the history alone still gives a verdict.
"""

from __future__ import annotations

import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, cast

from sfn_forensics.aws.session import ClientFactory
from sfn_forensics.errors import SfnForensicsError
from sfn_forensics.evidence.model import (
    SOURCE_LOGS,
    SOURCE_POLL_RESULTS,
    SOURCE_SNAPSHOT,
    ArtifactPlan,
    Evidence,
    LogGroupPlan,
    S3Object,
    SnapshotEvidence,
    SourceStatus,
)

log = logging.getLogger(__name__)

# Bodies above this size go to a temporary file on disk instead of memory.
SPOOL_MAX_BYTES = 8 * 1024 * 1024
_COPY_CHUNK_BYTES = 1024 * 1024
# HeadObject calls for snapshot metadata; a Chroma directory has a handful of files.
MAX_SNAPSHOT_HEADS = 200
_WORKERS = 8


def collect_artifacts(
    factory: ClientFactory,
    evidence: Evidence,
    plan: ArtifactPlan,
    only: set[str] | None = None,
) -> None:
    """Fill `evidence` with logs, poll results and snapshot evidence, each with its status.

    `only` limits the fetch to those source names; the others stay unrecorded.
    """
    if only is not None:
        plan.applicable &= only
    for source in (SOURCE_LOGS, SOURCE_POLL_RESULTS, SOURCE_SNAPSHOT):
        if source not in plan.applicable and source in plan.reasons:
            evidence.not_applicable[source] = plan.reasons[source]
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="artifacts") as pool:
        logs = pool.submit(_collect_logs, factory, evidence, plan)
        poll = pool.submit(_collect_poll_results, factory, evidence, plan)
        snapshot = pool.submit(_collect_snapshot, factory, evidence, plan)
        for future in (logs, poll, snapshot):
            future.result()


def _reason(error: SfnForensicsError) -> str:
    return error.message


def _collect_logs(factory: ClientFactory, evidence: Evidence, plan: ArtifactPlan) -> None:
    evidence.log_plan = list(plan.log_groups)
    if SOURCE_LOGS not in plan.applicable:
        return
    if not plan.log_groups:
        evidence.sources[SOURCE_LOGS] = SourceStatus.unavailable(
            plan.reasons.get("logs", "no Lambda log groups to read")
        )
        return
    if plan.execution_start is None:
        evidence.sources[SOURCE_LOGS] = SourceStatus.unavailable(
            "the execution start time is unknown, so there is no log window"
        )
        return
    from sfn_forensics.aws.cloudwatch_logs import execution_window

    start_ms, end_ms = execution_window(plan.execution_start, plan.execution_stop)
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="logs") as pool:
        results = list(
            pool.map(lambda group: _fetch_group(factory, group, start_ms, end_ms), plan.log_groups)
        )
    for group, (events, status) in zip(plan.log_groups, results, strict=True):
        evidence.log_group_status[group.log_group] = status
        if events is not None:
            evidence.log_events[group.log_group] = events
    read = [status for status in evidence.log_group_status.values() if status.ok]
    if read:
        count = sum(len(events) for events in evidence.log_events.values())
        evidence.sources[SOURCE_LOGS] = SourceStatus.available(
            f"{count} events from {len(read)} of {len(plan.log_groups)} log groups"
        )
    else:
        evidence.sources[SOURCE_LOGS] = SourceStatus.unavailable(
            _summarize_failures(evidence.log_group_status)
        )
        log.warning("Lambda logs unavailable: %s", evidence.sources[SOURCE_LOGS].reason)


def _summarize_failures(statuses: dict[str, SourceStatus]) -> str:
    """Return one line for many failed log groups, grouped by reason, with the first example."""
    failed = {name: status.reason or "unknown reason" for name, status in statuses.items()}
    total = len(statuses)
    if len(failed) == 1:
        return next(iter(failed.values()))
    first = next(iter(failed.values()))
    return f"{len(failed)} of {total} log groups could not be read, e.g. {first}"


def _fetch_group(
    factory: ClientFactory, group: LogGroupPlan, start_ms: int, end_ms: int
) -> tuple[list[dict[str, Any]] | None, SourceStatus]:
    from sfn_forensics.aws.cloudwatch_logs import fetch_log_events
    from sfn_forensics.aws.errors import aws_errors

    try:
        with aws_errors("logs", group.log_group):
            events = fetch_log_events(factory.logs(), group.log_group, start_ms, end_ms)
    except SfnForensicsError as error:
        log.info("log group %s unavailable: %s", group.log_group, error.message)
        return None, SourceStatus.unavailable(_reason(error))
    return events, SourceStatus.available(f"{len(events)} events")


def _collect_poll_results(factory: ClientFactory, evidence: Evidence, plan: ArtifactPlan) -> None:
    if SOURCE_POLL_RESULTS not in plan.applicable:
        return
    if plan.poll_results_bucket is None or plan.poll_results_key is None:
        evidence.sources[SOURCE_POLL_RESULTS] = SourceStatus.unavailable(
            plan.reasons.get("poll_results", "its location is unknown")
        )
        return
    from sfn_forensics.aws.errors import aws_errors
    from sfn_forensics.aws.s3_reads import open_object

    bucket, key = plan.poll_results_bucket, plan.poll_results_key
    location = f"s3://{bucket}/{key}"
    try:
        with aws_errors("s3", location):
            body, meta = open_object(factory.s3(), bucket, key)
            # The file outlives this function: the analysis streams it later.
            spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115
            try:
                while chunk := body.read(_COPY_CHUNK_BYTES):
                    spooled.write(chunk)
            finally:
                body.close()
    except SfnForensicsError as error:
        log.warning("poll results %s unavailable: %s", location, error.message)
        evidence.sources[SOURCE_POLL_RESULTS] = SourceStatus.unavailable(_reason(error))
        return
    spooled.seek(0)
    evidence.s3_objects[SOURCE_POLL_RESULTS] = S3Object(
        bucket=bucket,
        key=key,
        size=meta.get("ContentLength"),
        metadata=dict(meta.get("Metadata") or {}),
        body_file=cast(BinaryIO, spooled),
        origin=plan.poll_results_origin,
    )
    evidence.sources[SOURCE_POLL_RESULTS] = SourceStatus.available(
        f"{location} ({meta.get('ContentLength')} bytes, from {plan.poll_results_origin})"
    )


def _collect_snapshot(factory: ClientFactory, evidence: Evidence, plan: ArtifactPlan) -> None:
    if SOURCE_SNAPSHOT not in plan.applicable:
        return
    if plan.snapshot_bucket is None:
        evidence.sources[SOURCE_SNAPSHOT] = SourceStatus.unavailable(
            plan.reasons.get("snapshot", "its location is unknown")
        )
        return
    from sfn_forensics.aws.errors import aws_errors
    from sfn_forensics.aws.s3_reads import head_object, list_prefix, read_text

    bucket = plan.snapshot_bucket
    client = factory.s3()
    try:
        prefix, origin, pointer_text = _snapshot_prefix(client, plan)
        snapshot = SnapshotEvidence(
            bucket=bucket, prefix=prefix, origin=origin, pointer_text=pointer_text
        )
        with aws_errors("s3", f"s3://{bucket}/{prefix}"):
            snapshot.objects = list_prefix(client, bucket, prefix)
        if not snapshot.objects:
            evidence.snapshot = snapshot
            evidence.sources[SOURCE_SNAPSHOT] = SourceStatus.unavailable(
                f"s3://{bucket}/{prefix} holds no objects"
            )
            return
        keys = [item["Key"] for item in snapshot.objects][:MAX_SNAPSHOT_HEADS]

        def head(key: str) -> tuple[str, dict[str, str]]:
            with aws_errors("s3", f"s3://{bucket}/{key}"):
                return key, dict(head_object(client, bucket, key).get("Metadata") or {})

        with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="snapshot") as pool:
            snapshot.metadata = dict(pool.map(head, keys))
        hash_key = next((key for key in keys if key.endswith(".snapshot_hash")), None)
        if hash_key is not None:
            with aws_errors("s3", f"s3://{bucket}/{hash_key}"):
                snapshot.hash_text = read_text(client, bucket, hash_key)
    except SfnForensicsError as error:
        log.warning("snapshot in %s unavailable: %s", bucket, error.message)
        evidence.sources[SOURCE_SNAPSHOT] = SourceStatus.unavailable(_reason(error))
        return
    evidence.snapshot = snapshot
    evidence.sources[SOURCE_SNAPSHOT] = SourceStatus.available(
        f"s3://{bucket}/{prefix}: {len(snapshot.objects)} objects, from {origin}"
    )


def _snapshot_prefix(client: Any, plan: ArtifactPlan) -> tuple[str, str, str | None]:
    """Return (prefix, origin, pointer text); the pointer is read only without a prefix."""
    assert plan.snapshot_bucket is not None
    if plan.snapshot_prefix is not None:
        return plan.snapshot_prefix, plan.snapshot_origin or "final merge result", None
    if plan.snapshot_pointer_key is None or plan.snapshot_prefix_template is None:
        from sfn_forensics.errors import NotFoundError

        raise NotFoundError(plan.reasons.get("snapshot", "no snapshot location is known"))
    from sfn_forensics.aws.errors import aws_errors
    from sfn_forensics.aws.s3_reads import read_text

    key = plan.snapshot_pointer_key
    with aws_errors("s3", f"s3://{plan.snapshot_bucket}/{key}"):
        text = read_text(client, plan.snapshot_bucket, key, max_bytes=4096)
    version = text.strip()
    base = plan.snapshot_prefix_template.split("{version}")[0]
    if version.startswith(base):
        # Some pointers hold the whole prefix rather than the version id.
        prefix = version if version.endswith("/") else version + "/"
    else:
        prefix = plan.snapshot_prefix_template.format(version=version)
    origin = (
        f"pointer s3://{plan.snapshot_bucket}/{key} = {version}; "
        "the pointer may have moved since the execution"
    )
    return prefix, origin, text
