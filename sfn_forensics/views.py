"""Library functions behind `forensics logs`, `poll-results` and `snapshot`: data, not text."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sfn_forensics.errors import EXIT_HEALTHY, EXIT_INCONCLUSIVE, EXIT_PROBLEMS
from sfn_forensics.evidence.model import (
    SOURCE_LOGS,
    SOURCE_POLL_RESULTS,
    SOURCE_SNAPSHOT,
    Evidence,
)
from sfn_forensics.investigate import AwsTarget, InspectRequest, gather_live

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Timeouts and platform errors count as ERROR when filtering by level.
_KIND_LEVEL = {"timeout": "ERROR"}


@dataclass
class VisitLines:
    """The log lines tied to one state visit (or to a state, when the visit is unknown)."""

    state: str | None
    visit_entered_event_id: int | None
    iteration_index: int | None
    parent_map: str | None
    tied_by: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "visit_entered_event_id": self.visit_entered_event_id,
            "iteration_index": self.iteration_index,
            "parent_map": self.parent_map,
            "tied_by": self.tied_by,
            "lines": self.lines,
        }


@dataclass
class LogsView:
    execution: dict[str, Any]
    source: str
    level: str | None
    groups: list[VisitLines]
    tie_methods: dict[str, int]
    untied: int

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "execution": self.execution,
            "logs": self.source,
            "level": self.level,
            "tied_by": self.tie_methods,
            "untied_lines": self.untied,
            "visits": [group.to_json() for group in self.groups],
        }


@dataclass
class DataView:
    """A JSON-ready section (poll results or snapshot) about one execution."""

    title: str
    execution: dict[str, Any]
    source: str
    data: dict[str, Any] | None
    # True when the data shows a problem: batches missing from the trail, an inconsistent snapshot.
    problems: bool = False

    @property
    def exit_code(self) -> int:
        if self.source.startswith("unavailable"):
            return EXIT_INCONCLUSIVE
        return EXIT_PROBLEMS if self.problems else EXIT_HEALTHY

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "execution": self.execution,
            "source": self.source,
            self.title: self.data,
        }


def _execution(evidence: Evidence) -> dict[str, Any]:
    return {"arn": evidence.execution_arn, "name": evidence.execution_name}


def _describe_source(evidence: Evidence, source: str) -> str:
    status = evidence.sources.get(source)
    if status is not None:
        return status.describe()
    reason = evidence.not_applicable.get(source, "the definition calls no Lambda by name")
    return f"not applicable: {reason}"


def read_logs(request: InspectRequest, aws: AwsTarget, level: str | None) -> LogsView:
    """Return the Lambda log lines of one execution, grouped by the state visit that wrote them."""
    from sfn_forensics.facts.logs import analyze_logs

    evidence, prepared = gather_live(request, aws, only={SOURCE_LOGS})
    source = _describe_source(evidence, SOURCE_LOGS)
    log_facts = analyze_logs(evidence, prepared.run) if evidence.source_ok(SOURCE_LOGS) else None
    if log_facts is None:
        return LogsView(_execution(evidence), source, level, [], {}, 0)

    visits = {visit.entered_event_id: visit for visit in prepared.run.visits}
    minimum = LEVELS.index(level) if level else None
    groups: OrderedDict[tuple[str | None, int | None], VisitLines] = OrderedDict()
    ordered = sorted(log_facts.ties, key=lambda tie: tie.line.timestamp)
    for tie in ordered:
        if tie.method is None:
            continue
        line = tie.line
        line_level = line.level or _KIND_LEVEL.get(line.kind)
        if minimum is not None and (line_level not in LEVELS or LEVELS.index(line_level) < minimum):
            continue
        key = (tie.state, tie.visit_entered_event_id)
        group = groups.get(key)
        if group is None:
            visit = visits.get(tie.visit_entered_event_id or -1)
            group = VisitLines(
                state=tie.state,
                visit_entered_event_id=tie.visit_entered_event_id,
                iteration_index=visit.iteration_index if visit else None,
                parent_map=visit.parent_map if visit else None,
                tied_by=tie.method,
            )
            groups[key] = group
        group.lines.append(
            {
                "timestamp": line.timestamp.isoformat(),
                "level": line_level,
                "kind": line.kind,
                "message": line.message,
                "request_id": line.request_id,
                "log_group": line.log_group,
                "log_stream": line.log_stream,
                "tied_by": tie.method,
                "fields": line.fields,
            }
        )
    return LogsView(
        _execution(evidence),
        source,
        level,
        list(groups.values()),
        log_facts.methods,
        log_facts.untied,
    )


def read_poll_results(request: InspectRequest, aws: AwsTarget) -> DataView:
    """Return poll_results.json summarised and the batch trail reconciled with the history."""
    from sfn_forensics.facts.batches import batch_facts, summarize_poll_results

    evidence, prepared = gather_live(request, aws, only={SOURCE_POLL_RESULTS})
    source = _describe_source(evidence, SOURCE_POLL_RESULTS)
    summary = summarize_poll_results(evidence) if evidence.source_ok(SOURCE_POLL_RESULTS) else None
    if prepared.facts is None:
        return DataView("poll_results", _execution(evidence), source, None)
    batches = batch_facts(evidence, prepared.facts, summary)
    problems = any(step.missing_count or step.extra_count for step in batches.trail.steps)
    return DataView("poll_results", _execution(evidence), source, batches.to_json(), problems)


def read_snapshot(request: InspectRequest, aws: AwsTarget) -> DataView:
    """Return the snapshot's listing checks and, with verification, its real embedding count."""
    from sfn_forensics.facts.snapshot import snapshot_facts

    evidence, _ = gather_live(request, aws, only={SOURCE_SNAPSHOT})
    source = _describe_source(evidence, SOURCE_SNAPSHOT)
    facts = snapshot_facts(evidence) if evidence.source_ok(SOURCE_SNAPSHOT) else None
    if facts is None:
        return DataView("snapshot", _execution(evidence), source, None)
    problems = bool(facts.report.mismatches or facts.hash_error)
    return DataView("snapshot", _execution(evidence), source, facts.to_json(), problems)
