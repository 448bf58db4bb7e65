"""The `Evidence` container. Everything after `evidence/` reads only this object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

# Source names used in `Evidence.sources` and in the report's `evidence_sources`.
SOURCE_DESCRIBE = "describe_execution"
SOURCE_HISTORY = "history"
SOURCE_DEFINITION = "definition"
SOURCE_LOGS = "logs"
SOURCE_POLL_RESULTS = "poll_results"
SOURCE_SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class SourceStatus:
    """Outcome of fetching one source: `ok`, or unavailable with the reason."""

    ok: bool
    reason: str | None = None
    detail: str | None = None

    @classmethod
    def available(cls, detail: str | None = None) -> SourceStatus:
        return cls(ok=True, detail=detail)

    @classmethod
    def unavailable(cls, reason: str) -> SourceStatus:
        return cls(ok=False, reason=reason)

    def describe(self) -> str:
        return "ok" if self.ok else f"unavailable: {self.reason}"


@dataclass
class S3Object:
    """One S3 object fetched as evidence: its key, metadata and (when read) its body."""

    bucket: str
    key: str
    size: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # A large body kept in a temporary file (spooled), read as a stream, e.g. poll_results.json.
    body_file: BinaryIO | None = None
    # Where the key came from: "event 42: NormalizePollWordBatchesData output" or "template".
    origin: str | None = None


@dataclass(frozen=True)
class LogGroupPlan:
    """One log group to read, with the function writing to it and the states that call it."""

    log_group: str
    function_name: str
    states: tuple[str, ...]


@dataclass
class ArtifactPlan:
    """The evidence to fetch besides the history: log groups, their window and S3 locations.

    A location that could not be worked out is None, with the reason in `reasons`.
    """

    execution_name: str | None
    # The execution's start and stop; the log window is widened around them when fetching.
    execution_start: datetime | None
    execution_stop: datetime | None
    log_groups: list[LogGroupPlan] = field(default_factory=list)
    poll_results_bucket: str | None = None
    poll_results_key: str | None = None
    poll_results_origin: str | None = None
    snapshot_bucket: str | None = None
    snapshot_prefix: str | None = None
    snapshot_origin: str | None = None
    # Read when no snapshot prefix is known from the run.
    snapshot_pointer_key: str | None = None
    snapshot_prefix_template: str | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    # Sources that apply to this run; the others are not relevant (e.g. no Lambda was called).
    applicable: set[str] = field(default_factory=set)


@dataclass
class SnapshotEvidence:
    """The snapshot prefix as listed, its `.snapshot_hash` text and each object's metadata."""

    bucket: str
    prefix: str
    origin: str
    objects: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    hash_text: str | None = None
    pointer_text: str | None = None
    # Embeddings per collection, counted with Chroma's client after a download (--verify).
    verified_counts: dict[str, int] | None = None
    verify_error: str | None = None


@dataclass
class Evidence:
    """Raw evidence about one execution.

    `events` is the full GetExecutionHistory event list, oldest first, exactly as AWS returned it.
    `definition` is the parsed definition that ran. `sources` contains one status per source name.
    """

    execution_arn: str | None
    execution_name: str | None
    describe_execution: dict[str, Any] | None
    events: list[dict[str, Any]]
    definition: dict[str, Any] | None
    state_machine_arn: str | None = None
    sources: dict[str, SourceStatus] = field(default_factory=dict)
    # Log events per log group name, as FilterLogEvents returned them.
    log_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # S3 evidence by role, e.g. "poll_results", plus snapshot objects.
    s3_objects: dict[str, S3Object] = field(default_factory=dict)
    snapshot_listing: list[S3Object] = field(default_factory=list)
    origin: str = "live"
    # The DescribeStateMachineForExecution response; its `definition` is the unparsed JSON string.
    describe_state_machine: dict[str, Any] | None = None
    # False when the events are known to miss part of the history, e.g. a saved first page.
    history_complete: bool = True
    # Status per log group, next to the overall "logs" source status.
    log_group_status: dict[str, SourceStatus] = field(default_factory=dict)
    log_plan: list[LogGroupPlan] = field(default_factory=list)
    snapshot: SnapshotEvidence | None = None
    # Why a source does not apply to this run (e.g. the step that writes it never ran).
    not_applicable: dict[str, str] = field(default_factory=dict)

    def source_ok(self, name: str) -> bool:
        status = self.sources.get(name)
        return status is not None and status.ok
