"""Final merge checks, and the path taken against the chunk threshold in the definition."""

from __future__ import annotations

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec, Inconclusive
from sfn_forensics.checks.model import Finding

SPEC = CheckSpec(
    name="final_merge",
    description="Check that the final merge ran on the right path and reported success.",
    codes=(
        CodeSpec(
            "FINAL_MERGE_NOT_RUN",
            "error",
            "The run had chunks to merge and succeeded, but the final merge never ran.",
        ),
        CodeSpec(
            "FINAL_MERGE_FAILED",
            "error",
            "The final merge failed after its retries and a Catch let the execution succeed.",
        ),
        CodeSpec(
            "FINAL_MERGE_BAD_STATUS",
            "error",
            "The final merge returned a statusCode other than 200.",
        ),
        CodeSpec(
            "PATH_CONTRADICTS_THRESHOLD",
            "error",
            "The path taken disagrees with the chunk threshold read from the definition.",
        ),
    ),
    needs_profile=True,
)

_MERGING_PATHS = {"hierarchical", "direct"}


def run(context: CheckContext) -> list[Finding]:
    facts = context.facts
    if facts is None:
        raise Inconclusive("no workflow profile applies")
    findings: list[Finding] = []
    merge = facts.final_merge
    state = facts.profile.role("final_merge")
    if merge is not None and facts.path in _MERGING_PATHS:
        if not merge.ran and context.run.status == "SUCCEEDED":
            findings.append(
                Finding(
                    code="FINAL_MERGE_NOT_RUN",
                    severity="error",
                    title=f"{state} never ran on the {facts.path} path",
                    state=state,
                    evidence={"path": context.run.path},
                    next_steps=["Check the Choice rules that lead to the final merge."],
                )
            )
        elif (
            merge.ran
            and not merge.succeeded
            and merge.error is not None
            and context.run.status == "SUCCEEDED"
        ):
            # A failure that ended the execution is reported once, as EXECUTION_FAILED.
            findings.append(
                Finding(
                    code="FINAL_MERGE_FAILED",
                    severity="error",
                    title=f"{state} failed after {merge.retries} retries: {merge.error}",
                    state=state,
                    evidence={
                        "entered_event_id": merge.entered_event_id,
                        "retries": merge.retries,
                        "error": merge.error,
                        "cause": merge.cause,
                    },
                    next_steps=[
                        f"Read {state}'s logs for the failure, fix it, and redrive the execution.",
                        "Batches were not marked complete, so a new run picks them up again.",
                    ],
                )
            )
        elif merge.succeeded and merge.status_code not in (None, 200):
            findings.append(
                Finding(
                    code="FINAL_MERGE_BAD_STATUS",
                    severity="error",
                    title=f"{state} returned statusCode {merge.status_code}",
                    state=state,
                    evidence={
                        "exited_event_id": merge.exited_event_id,
                        "status_code": merge.status_code,
                    },
                    next_steps=[
                        f"Read {state}'s output and logs at event {merge.exited_event_id}."
                    ],
                )
            )
    findings.extend(_path_against_threshold(context))
    return findings


_OPERATORS = {
    "NumericGreaterThan": lambda left, right: left > right,
    "NumericGreaterThanEquals": lambda left, right: left >= right,
    "NumericLessThan": lambda left, right: left < right,
    "NumericLessThanEquals": lambda left, right: left <= right,
    "NumericEquals": lambda left, right: left == right,
}


def _path_against_threshold(context: CheckContext) -> list[Finding]:
    """Evaluate the Choice rule on the chunk count and compare with the state that ran next."""
    facts = context.facts
    assert facts is not None
    threshold = facts.expected.get("hierarchical_threshold")
    chunks = facts.count("chunks")
    if threshold is None or not isinstance(threshold.value, (int, float)):
        return []
    if not isinstance(chunks, int) or facts.path not in _MERGING_PATHS:
        return []
    compare = _OPERATORS.get(str(threshold.detail.get("operator")))
    target = threshold.detail.get("next_state")
    if compare is None or not target:
        return []
    rule_matches = bool(compare(chunks, threshold.value))
    if threshold.detail.get("negated"):
        rule_matches = not rule_matches
    target_ran = target in context.run.path
    if rule_matches == target_ran:
        return []
    operator = threshold.detail["operator"]
    expectation = "should have" if rule_matches else "should not have"
    return [
        Finding(
            code="PATH_CONTRADICTS_THRESHOLD",
            severity="error",
            title=(
                f"With {chunks} chunks ({operator} {threshold.value}) {target} {expectation} run, "
                f"but the run took the {facts.path} path"
            ),
            state=facts.profile.role("group_choice"),
            evidence={
                "chunks": chunks,
                "threshold": threshold.value,
                "operator": operator,
                "threshold_source": threshold.source,
                "path": facts.path,
                "path_evidence": facts.path_evidence,
            },
            next_steps=["Compare the Choice input with the chunk count the split step returned."],
        )
    ]
