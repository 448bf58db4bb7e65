"""STATE_ERROR_CAUGHT and STATE_RETRIED: errors inside states that did not end the execution."""

from __future__ import annotations

from collections import defaultdict

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec
from sfn_forensics.checks.model import Finding
from sfn_forensics.history.model import Failure

SPEC = CheckSpec(
    name="state_failures",
    description="Report errors that a Catch handled and states that needed retries.",
    codes=(
        CodeSpec(
            "STATE_ERROR_CAUGHT",
            "warning",
            "A state failed and a Catch moved the execution on; its result is missing.",
        ),
        CodeSpec("STATE_RETRIED", "info", "A state failed at least once and a Retry ran it again."),
    ),
)

_EVIDENCE_LIMIT = 20


def run(context: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    retried: dict[str, list[Failure]] = defaultdict(list)
    caught: dict[str, list[Failure]] = defaultdict(list)
    terminal_failure = _terminal_failure_id(context)
    for failure in context.run.failures:
        state = failure.state or "(unknown state)"
        if failure.retried:
            retried[state].append(failure)
        elif failure.event_id != terminal_failure:
            caught[state].append(failure)

    for state, failures in caught.items():
        if context.run.status != "SUCCEEDED":
            continue
        findings.append(
            Finding(
                code="STATE_ERROR_CAUGHT",
                severity="warning",
                title=f"{state} failed {len(failures)} time(s) and a Catch moved on",
                state=state,
                evidence=_failure_evidence(failures),
                next_steps=[
                    f"Check what {state} should have produced; the Catch path ran without it.",
                ],
            )
        )
    failed_state = context.run.failed_state if context.run.status != "SUCCEEDED" else None
    for state, failures in retried.items():
        if state == failed_state:
            # EXECUTION_FAILED reports these retries with the failure that ended the run.
            continue
        findings.append(
            Finding(
                code="STATE_RETRIED",
                severity="info",
                title=f"{state} was retried {len(failures)} time(s)",
                state=state,
                evidence=_failure_evidence(failures),
                next_steps=[],
            )
        )
    return findings


def _terminal_failure_id(context: CheckContext) -> int | None:
    """Return the failure that ended the execution; EXECUTION_FAILED reports that one."""
    if context.run.status == "SUCCEEDED":
        return None
    final = [failure for failure in context.run.failures if not failure.retried]
    return final[-1].event_id if final else None


def _failure_evidence(failures: list[Failure]) -> dict[str, object]:
    errors = sorted({failure.error or "unknown" for failure in failures})
    return {
        "event_ids": [failure.event_id for failure in failures[:_EVIDENCE_LIMIT]],
        "count": len(failures),
        "errors": errors,
        "first_cause": failures[0].cause,
    }
