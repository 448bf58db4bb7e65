"""Work out which log groups and S3 objects hold evidence about one run."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sfn_forensics.asl.definition import Definition
from sfn_forensics.evidence.model import ArtifactPlan, LogGroupPlan
from sfn_forensics.history.model import ExecutionRun
from sfn_forensics.profiles.engine import ProfileFacts
from sfn_forensics.profiles.schema import Profile

log = logging.getLogger(__name__)

_POLL_KEY = "poll_results_s3_key"
_POLL_BUCKET = "poll_results_s3_bucket"


def plan_artifacts(
    run: ExecutionRun,
    definition: Definition | None,
    profile: Profile | None,
    facts: ProfileFacts | None,
    execution_name: str | None,
) -> ArtifactPlan:
    plan = ArtifactPlan(
        execution_name=execution_name,
        execution_start=run.started_at,
        execution_stop=run.stopped_at,
    )
    if definition is None:
        plan.applicable.add("logs")
        plan.reasons["logs"] = "the definition that ran is unavailable, so its Lambdas are unknown"
    else:
        plan.log_groups = log_groups_for(definition, profile)
        if plan.log_groups:
            plan.applicable.add("logs")
    if profile is not None:
        ran = set(run.path)
        writer = profile.role("normalize_poll")
        if writer is None or writer in ran:
            plan.applicable.add("poll_results")
            _locate_poll_results(plan, run, profile, execution_name)
        else:
            plan.reasons["poll_results"] = f"{writer} did not run, so no poll results were written"
        # Only a final merge that succeeded wrote a snapshot; the pointer may name another run's.
        merge = facts.final_merge if facts is not None else None
        if merge is not None and merge.succeeded:
            plan.applicable.add("snapshot")
            _locate_snapshot(plan, run, profile, facts)
        elif merge is not None and merge.ran:
            plan.reasons["snapshot"] = "the final merge failed, so no snapshot was written"
        else:
            plan.reasons["snapshot"] = "the final merge did not run, so no snapshot was written"
    else:
        plan.reasons["poll_results"] = "no workflow profile applies to this state machine"
        plan.reasons["snapshot"] = plan.reasons["poll_results"]
    return plan


def log_groups_for(definition: Definition, profile: Profile | None) -> list[LogGroupPlan]:
    """Return one entry per Lambda log group, with every state that calls that function."""
    from sfn_forensics.asl.lambdas import lambda_functions, log_group_for

    states_by_function: dict[str, list[str]] = defaultdict(list)
    for ref in lambda_functions(definition):
        if ref.dynamic or ref.function_name is None:
            log.info("state %s picks its Lambda at run time; its logs are not read", ref.state_name)
            continue
        if ref.state_name not in states_by_function[ref.function_name]:
            states_by_function[ref.function_name].append(ref.state_name)
    overrides = profile.log_groups if profile else {}
    plans = []
    for function_name, states in states_by_function.items():
        group = overrides.get(function_name)
        if group is None:
            ref = next(r for r in lambda_functions(definition) if r.function_name == function_name)
            group = log_group_for(ref)
        plans.append(LogGroupPlan(group, function_name, tuple(states)))
    return plans


def _locate_poll_results(
    plan: ArtifactPlan, run: ExecutionRun, profile: Profile | None, execution_name: str | None
) -> None:
    found = _find_key_pair(run, _POLL_KEY, _POLL_BUCKET)
    if found is not None:
        plan.poll_results_bucket, plan.poll_results_key, plan.poll_results_origin = found
        return
    template = profile.artifacts.poll_results_key_template if profile else None
    bucket = _find_bucket(run, profile)
    if template is None or execution_name is None:
        plan.reasons["poll_results"] = "no poll_results_s3_key in the history and no key template"
        return
    if bucket is None:
        plan.reasons["poll_results"] = (
            "no poll_results_s3_key in the history and no bucket named in any state output"
        )
        return
    plan.poll_results_bucket = bucket
    plan.poll_results_key = template.format(execution_name=execution_name)
    plan.poll_results_origin = f"profile template {template}"


def _locate_snapshot(
    plan: ArtifactPlan, run: ExecutionRun, profile: Profile | None, facts: ProfileFacts | None
) -> None:
    bucket = _find_bucket(run, profile)
    snapshot_key = facts.value("snapshot_key") if facts else None
    if bucket is None:
        plan.reasons["snapshot"] = "no S3 bucket is named in any state output"
        return
    plan.snapshot_bucket = bucket
    if isinstance(snapshot_key, str) and snapshot_key:
        plan.snapshot_prefix = snapshot_key if snapshot_key.endswith("/") else snapshot_key + "/"
        source = facts.values["snapshot_key"].source if facts else None
        plan.snapshot_origin = source or "final merge result"
        return
    if profile is None or profile.artifacts.snapshot_pointer_key is None:
        plan.reasons["snapshot"] = "the final merge returned no snapshot_key"
        return
    plan.snapshot_pointer_key = profile.artifacts.snapshot_pointer_key
    plan.snapshot_prefix_template = profile.artifacts.snapshot_prefix_template


def _find_key_pair(
    run: ExecutionRun, key_field: str, bucket_field: str
) -> tuple[str, str, str] | None:
    """Return (bucket, key, origin) from the first top-level output carrying both fields."""
    for visit in run.top_level_visits:
        output = visit.output_json()
        for holder in _objects(output):
            key = holder.get(key_field)
            bucket = holder.get(bucket_field)
            if isinstance(key, str) and isinstance(bucket, str):
                origin = f"event {visit.exited_event_id}: {visit.name} output"
                return bucket, key, origin
    return None


def _find_bucket(run: ExecutionRun, profile: Profile | None) -> str | None:
    fields = profile.artifacts.bucket_fields if profile else ()
    for visit in run.top_level_visits:
        for holder in _objects(visit.output_json()):
            for name in fields:
                value = holder.get(name)
                if isinstance(value, str) and value:
                    return value
    return None


def _objects(document: Any, depth: int = 0) -> list[dict[str, Any]]:
    """Return the objects in a state output, the output itself first, two levels deep."""
    if not isinstance(document, dict) or depth > 2:
        return []
    found = [document]
    for value in document.values():
        found.extend(_objects(value, depth + 1))
    return found
