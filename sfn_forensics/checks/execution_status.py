"""EXECUTION_FAILED and EXECUTION_RUNNING: the execution's own outcome."""

from __future__ import annotations

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec
from sfn_forensics.checks.model import Finding

SPEC = CheckSpec(
    name="execution_status",
    description="Report an execution that failed, timed out, was aborted or is still running.",
    codes=(
        CodeSpec("EXECUTION_FAILED", "error", "The execution failed, timed out or was aborted."),
        CodeSpec("EXECUTION_RUNNING", "info", "The execution has not finished yet."),
    ),
)

_FAILED_STATUSES = {"FAILED", "TIMED_OUT", "ABORTED"}


def run(context: CheckContext) -> list[Finding]:
    run_ = context.run
    if run_.status == "RUNNING":
        return [
            Finding(
                code="EXECUTION_RUNNING",
                severity="info",
                title="The execution is still running; counts may still change",
                state=None,
                evidence={"event_count": run_.event_count},
                next_steps=["Inspect again after the execution stops."],
            )
        ]
    if run_.status not in _FAILED_STATUSES:
        return []
    failures = [failure for failure in run_.failures if not failure.retried]
    failing = failures[-1] if failures else None
    evidence: dict[str, object] = {
        "status": run_.status,
        "error": run_.error,
        "cause": run_.cause,
    }
    state = None
    if failing is not None:
        state = failing.state
        retries = [f for f in run_.failures if f.retried and f.state == failing.state]
        if retries:
            evidence["retried_event_ids"] = [f.event_id for f in retries]
            evidence["retries"] = len(retries)
        evidence["failed_event_id"] = failing.event_id
        evidence["failed_event_type"] = failing.event_type
        evidence["state_error"] = failing.error
    error = run_.error
    if error is None and failing is not None:
        error = failing.error
    where = f" in {state}" if state else ""
    if evidence.get("retries"):
        where += f" after {evidence['retries']} retries"
    return [
        Finding(
            code="EXECUTION_FAILED",
            severity="error",
            title=f"Execution {run_.status}{where}: {error or 'no error given'}",
            state=state,
            evidence=evidence,
            next_steps=[
                f"Read the cause at event {failing.event_id} and the state's logs."
                if failing
                else "Read the execution's last events for the cause.",
                "Fix the cause, then redrive or start a new execution.",
            ],
        )
    ]
