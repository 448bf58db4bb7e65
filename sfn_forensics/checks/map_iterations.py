"""MAP_ITERATIONS_FAILED and MAP_ITEMS_NOT_ALL_RUN: Map states that lost items."""

from __future__ import annotations

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec
from sfn_forensics.checks.model import Finding

SPEC = CheckSpec(
    name="map_iterations",
    description="Compare each Map visit's item count with its iterations.",
    codes=(
        CodeSpec(
            "MAP_ITERATIONS_FAILED",
            "error",
            "A Map state succeeded although iterations failed or were aborted, so items were lost.",
        ),
        CodeSpec(
            "MAP_ITEMS_NOT_ALL_RUN",
            "error",
            "A Map state that succeeded started fewer iterations than it had items.",
        ),
    ),
)


def run(context: CheckContext) -> list[Finding]:
    findings: list[Finding] = []
    for visit in context.run.maps:
        if visit.status != "SUCCEEDED":
            # A failed Map fails its execution or its Catch; other checks report that.
            continue
        lost = visit.iterations_failed + visit.iterations_aborted
        if lost:
            findings.append(
                Finding(
                    code="MAP_ITERATIONS_FAILED",
                    severity="error",
                    title=(
                        f"{visit.name} succeeded although {lost} of "
                        f"{visit.iterations_started} iterations failed or were aborted"
                    ),
                    state=visit.name,
                    evidence={
                        "map_entered_event_id": visit.entered_event_id,
                        "items": visit.length,
                        "started": visit.iterations_started,
                        "succeeded": visit.iterations_succeeded,
                        "failed": visit.iterations_failed,
                        "aborted": visit.iterations_aborted,
                    },
                    next_steps=[
                        f"Find the failed iterations of {visit.name} and rerun their items.",
                    ],
                )
            )
        distributed = visit.map_run_arn is not None
        if not distributed and visit.length is not None and visit.iterations_started < visit.length:
            findings.append(
                Finding(
                    code="MAP_ITEMS_NOT_ALL_RUN",
                    severity="error",
                    title=(
                        f"{visit.name} had {visit.length} items but started "
                        f"{visit.iterations_started} iterations"
                    ),
                    state=visit.name,
                    evidence={
                        "map_entered_event_id": visit.entered_event_id,
                        "items": visit.length,
                        "started": visit.iterations_started,
                    },
                    next_steps=[f"Rerun the items of {visit.name} that never started."],
                )
            )
    return findings
