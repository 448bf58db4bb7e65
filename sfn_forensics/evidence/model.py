"""The `Evidence` container. Everything after `evidence/` reads only this object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Evidence:
    """Raw evidence about one execution.

    `events` is the full GetExecutionHistory event list, oldest first, exactly as AWS returned it.
    `definition` is the parsed definition that ran. `sources` holds one status per source name.
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

    def source_ok(self, name: str) -> bool:
        status = self.sources.get(name)
        return status is not None and status.ok
