"""OUTPUT_DROPPED: a key a state produced disappeared later, and nothing had read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfn_forensics.checks.base import CheckContext, CheckSpec, CodeSpec, Inconclusive
from sfn_forensics.checks.model import Finding, Severity

if TYPE_CHECKING:
    from sfn_forensics.history.dataflow import KeyDrop
    from sfn_forensics.history.model import StateVisit

SPEC = CheckSpec(
    name="output_dropped",
    description=(
        "Follow each top-level key through the states and report keys dropped before use, "
        "or expected outputs dropped at all."
    ),
    codes=(
        CodeSpec(
            "OUTPUT_DROPPED",
            "error",
            "An expected output (declared by the profile) disappeared or became null; "
            "a warning when a Task, Map or Parallel result was discarded before any state read it.",
        ),
    ),
)

_RESULT_PRODUCERS = {"Task", "Map", "Parallel"}


def run(context: CheckContext) -> list[Finding]:
    expected = set(context.facts.profile.expected_outputs) if context.facts else set()
    findings: list[Finding] = []
    if context.definition is None and not any(drop.key in expected for drop in context.key_drops):
        raise Inconclusive(
            "the definition that ran is unavailable, so unread results cannot be identified"
        )
    for drop in context.key_drops:
        if drop.key in expected:
            findings.append(_finding(context, drop, "error"))
        elif _unread_result(context, drop):
            findings.append(_finding(context, drop, "warning"))
    return findings


def _unread_result(context: CheckContext, drop: KeyDrop) -> bool:
    """Return True when a Task/Map/Parallel result was discarded before any state read it."""
    definition = context.definition
    if definition is None:
        return False
    if drop.producer_state is None or drop.dropping_event_id is None:
        return False
    producer_def = definition.get(drop.producer_state)
    if producer_def is None or producer_def.type not in _RESULT_PRODUCERS:
        return False
    visits = context.run.top_level_visits
    producer_visit = next(
        (visit for visit in visits if visit.exited_event_id == drop.producer_event_id), None
    )
    if producer_visit is None:
        return False
    produced_input = producer_visit.input_json()
    if isinstance(produced_input, dict) and produced_input.get(drop.key) is not None:
        # The key came in with the input; the producer only passed it along.
        return False

    from sfn_forensics.asl.dataflow import state_reads_key

    for visit in visits:
        if visit.entered_event_id <= producer_visit.entered_event_id:
            continue
        if visit.exited_event_id is not None and visit.exited_event_id > drop.dropping_event_id:
            break
        state_def = definition.get(visit.name)
        if state_def is not None and state_reads_key(state_def, drop.key):
            return False
    return True


def _finding(context: CheckContext, drop: KeyDrop, severity: Severity) -> Finding:
    evidence: dict[str, object] = {
        "key": drop.key,
        "became": drop.became,
        "produced_by": drop.producer_state or "execution input",
        "produced_event_id": drop.producer_event_id,
        "last_carried_by": drop.last_carrier_state,
        "last_carried_event_id": drop.last_carrier_event_id,
        "dropped_by": drop.dropping_state,
        "dropped_by_type": drop.dropping_state_type,
        "dropped_event_id": drop.dropping_event_id,
    }
    next_steps: list[str] = []
    field = "unknown"
    explanation = "the definition that ran is unavailable, so the field responsible is unknown"
    state_def = context.definition.get(drop.dropping_state) if context.definition else None
    if state_def is not None:
        from sfn_forensics.asl.dataflow import explain_key_drop

        dropping_visit = _visit_exited_at(context, drop.dropping_event_id)
        output_keys: set[str] | None = None
        caught = False
        if dropping_visit is not None:
            output = dropping_visit.output_json()
            if isinstance(output, dict):
                output_keys = set(output)
            caught = any(not failure.retried for failure in dropping_visit.failures)
        cause = explain_key_drop(state_def, drop.key, output_keys, caught=caught)
        field = cause.field
        explanation = cause.explanation
        next_steps.append(cause.remedy)
    evidence["field"] = field
    evidence["explanation"] = explanation
    if drop.last_carrier_event_id is not None:
        next_steps.append(
            f"The value is still in the history: {drop.last_carrier_state} output at event "
            f"{drop.last_carrier_event_id}."
        )
    if severity == "error":
        later = _later_states(context, drop)
        if later:
            evidence["later_states"] = later
    title = (
        f"{drop.key} {'was dropped' if drop.became == 'missing' else 'became null'} "
        f"at {drop.dropping_state} ({drop.dropping_state_type}, {field})"
    )
    return Finding(
        code="OUTPUT_DROPPED",
        severity=severity,
        title=title,
        state=drop.dropping_state,
        evidence=evidence,
        next_steps=next_steps,
    )


def _visit_exited_at(context: CheckContext, event_id: int | None) -> StateVisit | None:
    if event_id is None:
        return None
    for visit in context.run.top_level_visits:
        if visit.exited_event_id == event_id:
            return visit
    return None


def _later_states(context: CheckContext, drop: KeyDrop) -> list[str]:
    """Return the top-level states that ran after the drop, i.e. without the key."""
    dropped_at = drop.dropping_event_id
    if dropped_at is None:
        return []
    return [
        visit.name for visit in context.run.top_level_visits if visit.entered_event_id > dropped_at
    ]
