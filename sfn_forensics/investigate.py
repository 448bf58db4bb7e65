"""The library entry point behind `forensics inspect`: gather evidence, then analyze it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sfn_forensics.errors import EXIT_HEALTHY, EXIT_INCONCLUSIVE, EXIT_PROBLEMS, UsageError
from sfn_forensics.evidence.model import Evidence
from sfn_forensics.report import Report

if TYPE_CHECKING:
    from sfn_forensics.analysis import PreparedRun
    from sfn_forensics.aws.session import ClientFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AwsTarget:
    """The AWS profile, region and endpoint that live evidence is read from."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    progress: bool = True


@dataclass(frozen=True)
class InspectRequest:
    target: str | None
    state_machine: str | None = None
    history_file: Path | None = None
    definition_file: Path | None = None
    workflow_profile: str | None = None
    verify_snapshot: bool = False


def inspect_execution(request: InspectRequest, aws: AwsTarget) -> Report:
    """Gather every source of evidence about one execution and analyze it."""
    from sfn_forensics.analysis import analyze

    if request.history_file is not None:
        return inspect_evidence(_read_history_file(request), request.workflow_profile)

    evidence, prepared = gather_live(request, aws)
    return analyze(evidence, prepared=prepared)


def inspect_evidence(evidence: Evidence, workflow_profile: str | None = None) -> Report:
    """Analyze evidence read from files: the sources a file cannot hold count as unavailable."""
    from sfn_forensics.analysis import analyze, mark_artifacts_not_fetched, plan_for, prepare

    prepared = prepare(evidence, workflow_profile)
    mark_artifacts_not_fetched(evidence, plan_for(evidence, prepared), "not in the history file")
    return analyze(evidence, prepared=prepared)


def gather_live(
    request: InspectRequest, aws: AwsTarget, only: set[str] | None = None
) -> tuple[Evidence, PreparedRun]:
    """Fetch the history, then the logs and S3 objects it points to (limited to `only`)."""
    from sfn_forensics.analysis import plan_for, prepare
    from sfn_forensics.evidence.artifacts import collect_artifacts

    factory, evidence = _collect_history(request, aws)
    prepared = prepare(evidence, request.workflow_profile)
    plan = plan_for(evidence, prepared)
    collect_artifacts(factory, evidence, plan, only)
    if request.verify_snapshot:
        from sfn_forensics.evidence.verify import verify_snapshot

        verify_snapshot(factory, evidence)
    return evidence, prepared


def _read_history_file(request: InspectRequest) -> Evidence:
    if request.target is not None:
        raise UsageError("give either an execution (ARN or name) or --history-file, not both")
    if request.verify_snapshot:
        raise UsageError("--verify-snapshot needs a live execution, not --history-file")
    from sfn_forensics.evidence.history_file import load_history_file

    assert request.history_file is not None
    return load_history_file(request.history_file, request.definition_file)


def _collect_history(request: InspectRequest, aws: AwsTarget) -> tuple[ClientFactory, Evidence]:
    """Resolve the target and fetch its description, history and definition (read-only)."""
    if request.target is None:
        raise UsageError(
            "missing execution: give an execution ARN or name, or --history-file FILE",
            hint="Example: forensics inspect 62bdeb9f-3252-4ff2-b3dd-6f7d93b577b6",
        )
    if request.definition_file is not None:
        raise UsageError("--definition-file only applies with --history-file")
    from sfn_forensics.aws.session import AwsOptions, ClientFactory
    from sfn_forensics.aws.stepfunctions import resolve_execution_arn
    from sfn_forensics.evidence.live import collect_live

    factory = ClientFactory(
        AwsOptions(profile=aws.profile, region=aws.region, endpoint_url=aws.endpoint_url)
    )
    arn = resolve_execution_arn(factory, request.target, request.state_machine)
    log.info("inspecting %s", arn)
    return factory, collect_live(factory, arn, progress=aws.progress)


def exit_code_for(report: Report) -> int:
    status = report.verdict.status
    if status == "healthy":
        return EXIT_HEALTHY
    if status == "inconclusive":
        return EXIT_INCONCLUSIVE
    return EXIT_PROBLEMS
