"""The library entry point behind `forensics inspect`: gather evidence, then analyze it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sfn_forensics.errors import EXIT_HEALTHY, EXIT_INCONCLUSIVE, EXIT_PROBLEMS, UsageError
from sfn_forensics.evidence.model import Evidence
from sfn_forensics.report import Report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AwsTarget:
    """Where live evidence comes from, in the AWS CLI's terms."""

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


def gather_evidence(request: InspectRequest, aws: AwsTarget) -> Evidence:
    """Read a saved history when one is given, else fetch from AWS (read-only)."""
    if request.history_file is not None:
        if request.target is not None:
            raise UsageError(
                "give either an execution (ARN or name) or --history-file, not both"
            )
        from sfn_forensics.evidence.history_file import load_history_file

        return load_history_file(request.history_file, request.definition_file)
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
    return collect_live(factory, arn, progress=aws.progress)


def inspect_execution(request: InspectRequest, aws: AwsTarget) -> Report:
    from sfn_forensics.analysis import analyze

    evidence = gather_evidence(request, aws)
    return analyze(evidence, request.workflow_profile)


def exit_code_for(report: Report) -> int:
    status = report.verdict.status
    if status == "healthy":
        return EXIT_HEALTHY
    if status == "inconclusive":
        return EXIT_INCONCLUSIVE
    return EXIT_PROBLEMS
