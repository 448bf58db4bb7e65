"""Turn evidence into a report: reconstruct, apply a profile, read facts, run checks, decide."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sfn_forensics.asl.definition import Definition
from sfn_forensics.checks.base import CheckContext
from sfn_forensics.checks.runner import decide_verdict, run_checks
from sfn_forensics.evidence.model import (
    SOURCE_DEFINITION,
    SOURCE_LOGS,
    SOURCE_POLL_RESULTS,
    SOURCE_SNAPSHOT,
    ArtifactPlan,
    Evidence,
    SourceStatus,
)
from sfn_forensics.history.dataflow import track_key_drops
from sfn_forensics.history.model import ExecutionRun
from sfn_forensics.history.parser import parse_history
from sfn_forensics.profiles.engine import ProfileFacts, apply_profile, select_profile
from sfn_forensics.profiles.schema import Profile
from sfn_forensics.report import COUNT_NAMES, MapSummary, Report

log = logging.getLogger(__name__)


@dataclass
class PreparedRun:
    """The run rebuilt from the history, with its definition and profile facts."""

    definition: Definition | None
    run: ExecutionRun
    profile: Profile | None
    facts: ProfileFacts | None


def prepare(evidence: Evidence, profile_name: str | None = None) -> PreparedRun:
    """Rebuild the run and apply the matching profile; needs only the history and definition."""
    definition = _parse_definition(evidence)
    run = parse_history(evidence.events, evidence.describe_execution)
    profile = select_profile(definition, run, profile_name)
    if profile is None:
        log.info("no workflow profile matches this state machine; running generic checks only")
    facts = apply_profile(profile, run, definition) if profile is not None else None
    return PreparedRun(definition, run, profile, facts)


def plan_for(evidence: Evidence, prepared: PreparedRun) -> ArtifactPlan:
    from sfn_forensics.profiles.locate import plan_artifacts

    return plan_artifacts(
        prepared.run,
        prepared.definition,
        prepared.profile,
        prepared.facts,
        evidence.execution_name,
    )


def mark_artifacts_not_fetched(evidence: Evidence, plan: ArtifactPlan, reason: str) -> None:
    """Record the sources that apply to this run as unavailable, e.g. for a saved history."""
    for source in (SOURCE_LOGS, SOURCE_POLL_RESULTS, SOURCE_SNAPSHOT):
        if source in plan.applicable:
            evidence.sources.setdefault(source, SourceStatus.unavailable(reason))


def analyze(
    evidence: Evidence, profile_name: str | None = None, prepared: PreparedRun | None = None
) -> Report:
    """Build the report for one execution from its evidence."""
    if prepared is None:
        prepared = prepare(evidence, profile_name)
    run, facts = prepared.run, prepared.facts
    extras = _artifact_facts(evidence, prepared)
    context = CheckContext(
        evidence=evidence,
        run=run,
        definition=prepared.definition,
        facts=facts,
        key_drops=track_key_drops(run),
        extras=extras,
    )
    findings, outcomes = run_checks(context)
    verdict = decide_verdict(run.status, findings, outcomes)
    report = Report(
        execution=_execution_section(evidence, run),
        workflow={
            "profile": prepared.profile.name if prepared.profile else None,
            "path": facts.path if facts else None,
            "path_evidence": facts.path_evidence if facts else [],
        },
        counts=_counts(facts),
        count_details=_count_details(facts),
        maps=summarize_maps(run),
        path=run.path,
        findings=findings,
        checks=outcomes,
        evidence_sources=_ordered_sources(evidence),
        verdict=verdict,
        final_merge=facts.final_merge.to_json() if facts and facts.final_merge else None,
        expected=_expected(facts),
    )
    for name in ("embeddings", "batches", "snapshot", "logs"):
        value = extras.get(name)
        if value is not None:
            report.sections[name] = value.to_json()
    return report


def _artifact_facts(evidence: Evidence, prepared: PreparedRun) -> dict[str, Any]:
    from sfn_forensics.facts.batches import batch_facts, summarize_poll_results
    from sfn_forensics.facts.embeddings import embedding_facts
    from sfn_forensics.facts.logs import analyze_logs
    from sfn_forensics.facts.snapshot import snapshot_facts

    extras: dict[str, Any] = {}
    log_facts = analyze_logs(evidence, prepared.run) if evidence.source_ok(SOURCE_LOGS) else None
    extras["logs"] = log_facts
    if prepared.facts is None:
        return extras
    summary = summarize_poll_results(evidence) if evidence.source_ok(SOURCE_POLL_RESULTS) else None
    snapshot = snapshot_facts(evidence) if evidence.source_ok(SOURCE_SNAPSHOT) else None
    extras["batches"] = batch_facts(evidence, prepared.facts, summary)
    extras["snapshot"] = snapshot
    extras["embeddings"] = embedding_facts(
        prepared.facts,
        prepared.definition,
        log_facts,
        _reason(evidence, SOURCE_LOGS),
        summary,
        _reason(evidence, SOURCE_POLL_RESULTS),
        snapshot,
        _reason(evidence, SOURCE_SNAPSHOT),
        set(prepared.run.path),
    )
    return extras


def _reason(evidence: Evidence, source: str) -> str | None:
    status = evidence.sources.get(source)
    if status is None:
        return f"{source} not read"
    # The full reason is listed once under the evidence sources.
    return None if status.ok else f"{source} unavailable"


_SOURCE_ORDER = (
    "history",
    "describe_execution",
    "definition",
    SOURCE_LOGS,
    SOURCE_POLL_RESULTS,
    SOURCE_SNAPSHOT,
)


def _ordered_sources(evidence: Evidence) -> dict[str, str]:
    names = sorted(
        evidence.sources,
        key=lambda name: _SOURCE_ORDER.index(name) if name in _SOURCE_ORDER else len(_SOURCE_ORDER),
    )
    return {name: evidence.sources[name].describe() for name in names}


def _parse_definition(evidence: Evidence) -> Definition | None:
    if evidence.definition is None:
        return None
    from sfn_forensics.asl.definition import parse_definition

    try:
        return parse_definition(evidence.definition)
    except ValueError as error:
        evidence.sources[SOURCE_DEFINITION] = SourceStatus.unavailable(
            f"the definition could not be parsed: {error}"
        )
        return None


def _execution_section(evidence: Evidence, run: ExecutionRun) -> dict[str, Any]:
    describe = evidence.describe_execution or {}
    return {
        "arn": evidence.execution_arn or describe.get("executionArn"),
        "name": evidence.execution_name or describe.get("name"),
        "state_machine_arn": evidence.state_machine_arn or describe.get("stateMachineArn"),
        "status": run.status,
        "start": run.started_at,
        "stop": run.stopped_at,
        "event_count": run.event_count,
        "error": run.error,
        "cause": run.cause,
    }


def _counts(facts: ProfileFacts | None) -> dict[str, int | None]:
    counts: dict[str, int | None] = {}
    for name in COUNT_NAMES:
        value = facts.count(name) if facts else None
        counts[name] = value if isinstance(value, int) and not isinstance(value, bool) else None
    return counts


def _count_details(facts: ProfileFacts | None) -> dict[str, dict[str, Any]]:
    if facts is None:
        return {}
    return {name: observed.to_json() for name, observed in facts.counts.items()}


def _expected(facts: ProfileFacts | None) -> dict[str, Any]:
    if facts is None:
        return {}
    expected: dict[str, Any] = {
        name: observed.to_json() for name, observed in facts.expected.items()
    }
    expected["groups"] = facts.expected_groups
    return expected


def summarize_maps(run: ExecutionRun) -> list[MapSummary]:
    """Sum each Map state's visits into one entry per state name, in order of first entry."""
    summaries: OrderedDict[str, MapSummary] = OrderedDict()
    for visit in run.maps:
        summary = summaries.get(visit.name)
        if summary is None:
            summary = MapSummary(visit.name, 0, None, 0, 0, 0, 0)
            summaries[visit.name] = summary
        summary.visits += 1
        if visit.length is not None:
            summary.items = (summary.items or 0) + visit.length
        summary.started += visit.iterations_started
        summary.succeeded += visit.iterations_succeeded
        summary.failed += visit.iterations_failed
        summary.aborted += visit.iterations_aborted
    return list(summaries.values())
