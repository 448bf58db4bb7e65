"""GROUP_MERGE_ERROR_PAYLOAD: group merges that returned an error instead of failing."""

from __future__ import annotations

from typing import Any

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec, Inconclusive
from sfn_forensics.checks.model import Finding

SPEC = CheckSpec(
    name="group_merge_errors",
    description="Find group merges that returned an error payload, so their Map still succeeded.",
    codes=(
        CodeSpec(
            "GROUP_MERGE_ERROR_PAYLOAD",
            "error",
            "A group merge returned an error payload; the Map succeeded but that group's data "
            "never reached the final merge.",
        ),
    ),
    needs_profile=True,
)


def run(context: CheckContext) -> list[Finding]:
    facts = context.facts
    if facts is None:
        raise Inconclusive("no workflow profile applies")
    errors = facts.counts.get("group_merge_errors")
    if errors is None or not isinstance(errors.value, int) or errors.value == 0:
        return []
    group_map = facts.profile.role("group_map")
    payloads = _error_payloads(context, group_map)
    return [
        Finding(
            code="GROUP_MERGE_ERROR_PAYLOAD",
            severity="error",
            title=f"{errors.value} group merge(s) in {group_map} returned an error payload",
            state=group_map,
            evidence={
                "group_merge_errors": errors.value,
                "source": errors.source,
                "payloads": payloads,
            },
            next_steps=[
                "Read the error of each failed group merge and rerun those groups.",
                "Make the merge Lambda raise instead of returning an error, so the Map fails "
                "or retries.",
            ],
        )
    ]


def _error_payloads(context: CheckContext, group_map: str | None) -> list[Any]:
    if group_map is None:
        return []
    visits = [visit for visit in context.run.top_level_visits if visit.name == group_map]
    if not visits:
        return []
    output = visits[-1].output_json()
    found: list[Any] = []
    if isinstance(output, dict):
        for value in output.values():
            if isinstance(value, list):
                found.extend(
                    item
                    for item in value
                    if isinstance(item, dict)
                    and (
                        (isinstance(item.get("statusCode"), int) and item["statusCode"] >= 400)
                        or item.get("error")
                    )
                )
    return found[:10]
