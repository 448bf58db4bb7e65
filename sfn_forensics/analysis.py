"""Turn evidence into a report: reconstruct, apply a profile, run checks, decide."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from sfn_forensics.checks.base import CheckContext
from sfn_forensics.checks.runner import decide_verdict, run_checks
from sfn_forensics.evidence.model import SOURCE_DEFINITION, Evidence, SourceStatus
from sfn_forensics.history.dataflow import track_key_drops
from sfn_forensics.history.model import ExecutionRun
from sfn_forensics.history.parser import parse_history
from sfn_forensics.profiles.engine import ProfileFacts, apply_profile, select_profile
from sfn_forensics.report import COUNT_NAMES, MapSummary, Report

log = logging.getLogger(__name__)


def analyze(evidence: Evidence, profile_name: str | None = None) -> Report:
    """Build the report for one execution from its evidence."""
    definition = _parse_definition(evidence)
    run = parse_history(evidence.events, evidence.describe_execution)
    profile = select_profile(definition, run, profile_name)
    facts = apply_profile(profile, run, definition) if profile is not None else None
    if profile is None:
        log.info("no workflow profile matches this state machine; running generic checks only")

    context = CheckContext(
        evidence=evidence,
        run=run,
        definition=definition,
        facts=facts,
        key_drops=track_key_drops(run),
    )
    findings, outcomes = run_checks(context)
    verdict = decide_verdict(run.status, findings, outcomes)
    return Report(
        execution=_execution_section(evidence, run),
        workflow={
            "profile": profile.name if profile else None,
            "path": facts.path if facts else None,
            "path_evidence": facts.path_evidence if facts else [],
        },
        counts=_counts(facts),
        count_details=_count_details(facts),
        maps=summarize_maps(run),
        path=run.path,
        findings=findings,
        checks=outcomes,
        evidence_sources={name: status.describe() for name, status in evidence.sources.items()},
        verdict=verdict,
        final_merge=facts.final_merge.to_json() if facts and facts.final_merge else None,
        expected=_expected(facts),
    )


def _parse_definition(evidence: Evidence) -> Any:
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
