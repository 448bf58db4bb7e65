"""Run every check against one context and compute the verdict."""

from __future__ import annotations

import logging

from sfn_forensics.checks.base import CheckContext, CheckSpec, Inconclusive
from sfn_forensics.checks.model import CheckOutcome, Finding, Verdict
from sfn_forensics.checks.registry import load_checks

log = logging.getLogger(__name__)

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def run_checks(context: CheckContext) -> tuple[list[Finding], list[CheckOutcome]]:
    findings: list[Finding] = []
    outcomes: list[CheckOutcome] = []
    for module in load_checks():
        spec: CheckSpec = module.SPEC
        if spec.needs_profile and context.facts is None:
            outcomes.append(
                CheckOutcome(spec.name, "not_applicable", "no workflow profile applies")
            )
            continue
        not_planned = [name for name in spec.requires if name not in context.evidence.sources]
        if not_planned:
            outcomes.append(
                CheckOutcome(
                    spec.name,
                    "not_applicable",
                    f"{', '.join(not_planned)} not relevant to this execution",
                )
            )
            continue
        missing = [name for name in spec.requires if not context.evidence.source_ok(name)]
        if missing:
            # The reason itself is listed once, with the evidence sources.
            reasons = "; ".join(f"{name} unavailable" for name in missing)
            outcomes.append(CheckOutcome(spec.name, "inconclusive", reasons))
            continue
        try:
            produced = module.run(context)
        except Inconclusive as inconclusive:
            outcomes.append(CheckOutcome(spec.name, "inconclusive", inconclusive.reason))
            continue
        except Exception as error:  # A broken check must not hide the others' findings.
            log.exception("check %s failed", spec.name)
            outcomes.append(CheckOutcome(spec.name, "inconclusive", f"check failed: {error!r}"))
            continue
        outcomes.append(CheckOutcome(spec.name, "ran"))
        findings.extend(produced)
    findings.sort(key=lambda finding: _SEVERITY_ORDER[finding.severity])
    return findings, outcomes


def decide_verdict(status: str, findings: list[Finding], outcomes: list[CheckOutcome]) -> Verdict:
    """Compute the verdict from the execution status and finding severities only."""
    errors = [finding for finding in findings if finding.severity == "error"]
    warnings = [finding for finding in findings if finding.severity == "warning"]
    inconclusive = [outcome for outcome in outcomes if outcome.status == "inconclusive"]
    ran = [outcome for outcome in outcomes if outcome.status == "ran"]

    if status in {"FAILED", "TIMED_OUT", "ABORTED"}:
        return Verdict("failed", f"execution {status}; {_describe(errors, 'error')}")
    if status == "RUNNING":
        return Verdict("inconclusive", "execution still running; inspect again after it stops")
    if errors:
        codes = ", ".join(sorted({finding.code for finding in errors}))
        return Verdict(
            "degraded",
            f"execution {status}, but {_describe(errors, 'error')} ({codes})",
        )
    if inconclusive or not ran:
        # Nothing definite went wrong, but "healthy" would claim more than was checked.
        names = ", ".join(f"{outcome.check} ({outcome.reason})" for outcome in inconclusive)
        return Verdict(
            "inconclusive",
            f"execution {status}, no errors found, but some checks could not run: "
            f"{names or 'none ran'}",
        )
    summary = f"execution {status}, no errors"
    if warnings:
        summary += f", {_describe(warnings, 'warning')}"
    return Verdict("healthy", summary)


def _describe(findings: list[Finding], noun: str) -> str:
    count = len(findings)
    return f"{count} {noun}{'' if count == 1 else 's'}"
