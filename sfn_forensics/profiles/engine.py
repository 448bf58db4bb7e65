"""Apply a profile to a reconstructed run and the definition that ran."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from sfn_forensics.asl.definition import Definition
from sfn_forensics.history.model import ExecutionRun, MapVisit, StateVisit
from sfn_forensics.profiles.schema import DefinitionValue, OutputField, Profile, builtin_profiles

log = logging.getLogger(__name__)

UNKNOWN_PATH = "unknown"


@dataclass
class Observed:
    """One value read from the run, with where it came from or why it is unknown."""

    value: Any
    source: str | None = None
    event_id: int | None = None
    reason: str | None = None
    # Extra facts about the value, e.g. a Choice rule's operator and target state.
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "event_id": self.event_id,
            "reason": self.reason,
        }


@dataclass
class FinalMergeFacts:
    ran: bool
    entered_event_id: int | None = None
    exited_event_id: int | None = None
    succeeded: bool = False
    status_code: Any = None
    total_embeddings: Any = None
    snapshot_key: Any = None
    retries: int = 0
    error: str | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "entered_event_id": self.entered_event_id,
            "exited_event_id": self.exited_event_id,
            "succeeded": self.succeeded,
            "status_code": self.status_code,
            "total_embeddings": self.total_embeddings,
            "snapshot_key": self.snapshot_key,
            "retries": self.retries,
            "error": self.error,
            "cause": self.cause,
        }


@dataclass
class ProfileFacts:
    """Facts a profile reads from one run: path, counts and expected values."""

    profile: Profile
    path: str
    path_evidence: list[str]
    counts: dict[str, Observed]
    values: dict[str, Observed]
    expected: dict[str, Observed]
    final_merge: FinalMergeFacts | None
    expected_groups: int | None = None
    notes: list[str] = field(default_factory=list)

    def count(self, name: str) -> Any:
        observed = self.counts.get(name)
        return None if observed is None else observed.value

    def value(self, name: str) -> Any:
        observed = self.values.get(name)
        return None if observed is None else observed.value


def select_profile(
    definition: Definition | None, run: ExecutionRun, requested: str | None = None
) -> Profile | None:
    """Pick the profile named by `requested`, else the first whose states all appear."""
    profiles = builtin_profiles()
    if requested is not None:
        for profile in profiles:
            if profile.name == requested:
                return profile
        from sfn_forensics.errors import UsageError

        names = ", ".join(profile.name for profile in profiles)
        raise UsageError(f"unknown profile {requested!r}", hint=f"Known profiles: {names}.")
    if definition is not None:
        state_names = set(definition.states)
    else:
        state_names = {visit.name for visit in run.visits}
    for profile in profiles:
        if all(name in state_names for name in profile.recognise):
            return profile
    return None


def apply_profile(
    profile: Profile, run: ExecutionRun, definition: Definition | None
) -> ProfileFacts:
    expected = {
        item.name: _read_definition_value(item, definition) for item in profile.definition_values
    }
    provisional_counts = {
        item.name: _read_field(item, run) for item in profile.counts if item.path is None
    }
    path, path_evidence = _decide_path(profile, run, provisional_counts)

    counts: dict[str, Observed] = {}
    for item in profile.counts:
        if item.path is not None and path != item.path:
            counts[item.name] = Observed(
                None, reason=f"not applicable on the {path} path (only on {item.path})"
            )
        else:
            counts[item.name] = provisional_counts.get(item.name) or _read_field(item, run)
    values = {item.name: _read_field(item, run) for item in profile.values}

    facts = ProfileFacts(
        profile=profile,
        path=path,
        path_evidence=path_evidence,
        counts=counts,
        values=values,
        expected=expected,
        final_merge=_final_merge_facts(profile, run, values),
    )
    group_size = expected.get("group_size")
    chunks = facts.count("chunks")
    if (
        group_size is not None
        and isinstance(group_size.value, int)
        and group_size.value > 0
        and isinstance(chunks, int)
    ):
        facts.expected_groups = math.ceil(chunks / group_size.value)
    return facts


def _decide_path(
    profile: Profile, run: ExecutionRun, counts: dict[str, Observed]
) -> tuple[str, list[str]]:
    visited = {visit.name: visit for visit in reversed(run.top_level_visits)}
    for rule in profile.paths:
        for name in rule.visited:
            if name in visited:
                return rule.name, [f"{name} entered (event {visited[name].entered_event_id})"]
        for count_name, wanted in rule.count_equals.items():
            observed = counts.get(count_name)
            if observed is not None and observed.value == wanted:
                return rule.name, [f"{count_name} = {wanted} ({observed.source})"]
    return UNKNOWN_PATH, ["no path rule matched the states that ran"]


def _last_top_level_visit(run: ExecutionRun, name: str) -> StateVisit | None:
    candidates = [visit for visit in run.top_level_visits if visit.name == name]
    return candidates[-1] if candidates else None


def _read_field(item: OutputField, run: ExecutionRun) -> Observed:
    if item.map_measure is not None:
        return _read_map_measure(item, run)
    visit = _last_top_level_visit(run, item.state)
    if visit is None:
        return Observed(None, reason=f"{item.state} did not run")
    if visit.exited_event_id is None:
        return Observed(
            None, reason=f"{item.state} did not finish", event_id=visit.entered_event_id
        )
    if visit.output_truncated:
        return Observed(
            None,
            reason=f"{item.state} output is truncated in the history",
            event_id=visit.exited_event_id,
        )
    output = visit.output_json()
    if output is None:
        return Observed(
            None, reason=f"{item.state} output is not JSON", event_id=visit.exited_event_id
        )
    import jmespath

    for expression in item.expressions:
        try:
            value = jmespath.search(expression, output)
        except Exception as error:  # JMESPath raises several unrelated types on bad data.
            log.debug("profile field %s: %s failed: %s", item.name, expression, error)
            continue
        if value is not None:
            return Observed(
                value,
                source=f"event {visit.exited_event_id}: {item.state} output {expression}",
                event_id=visit.exited_event_id,
            )
    tried = ", ".join(item.expressions)
    return Observed(
        None,
        reason=f"{item.state} output (event {visit.exited_event_id}) has no {tried}",
        event_id=visit.exited_event_id,
    )


def _read_map_measure(item: OutputField, run: ExecutionRun) -> Observed:
    maps: list[MapVisit] = [m for m in run.maps_of(item.state) if m.parent_map is None]
    if not maps:
        return Observed(None, reason=f"Map state {item.state} did not run")
    last = maps[-1]
    value = {
        "started": last.iterations_started,
        "succeeded": last.iterations_succeeded,
        "failed": last.iterations_failed,
        "aborted": last.iterations_aborted,
        "items": last.length,
    }[item.map_measure or "succeeded"]
    return Observed(
        value,
        source=(f"event {last.entered_event_id}: {item.state} Map iterations {item.map_measure}"),
        event_id=last.entered_event_id,
    )


def _read_definition_value(item: DefinitionValue, definition: Definition | None) -> Observed:
    if definition is None:
        return Observed(None, reason="the definition that ran is unavailable")
    if definition.get(item.state) is None:
        return Observed(None, reason=f"the definition has no state {item.state}")
    from sfn_forensics.asl.definition import choice_threshold, value_at

    if item.choice_variable is not None:
        threshold = choice_threshold(definition, item.state, item.choice_variable)
        if threshold is None or threshold.value is None:
            return Observed(
                None,
                reason=f"{item.state} has no numeric rule on {item.choice_variable}",
            )
        return Observed(
            threshold.value,
            source=(
                f"definition {item.state}: {item.choice_variable} {threshold.operator} "
                f"{threshold.value} -> {threshold.next_state}"
            ),
            detail={
                "operator": threshold.operator,
                "next_state": threshold.next_state,
                "negated": threshold.negated,
            },
        )
    value = value_at(definition, item.state, item.expression or "")
    if value is None:
        return Observed(None, reason=f"definition {item.state} has no {item.expression}")
    return Observed(value, source=f"definition {item.state}: {item.expression} = {value}")


def _final_merge_facts(
    profile: Profile, run: ExecutionRun, values: dict[str, Observed]
) -> FinalMergeFacts | None:
    name = profile.role("final_merge")
    if name is None:
        return None
    visit = _last_top_level_visit(run, name)
    if visit is None:
        return FinalMergeFacts(ran=False)
    facts = FinalMergeFacts(
        ran=True,
        entered_event_id=visit.entered_event_id,
        exited_event_id=visit.exited_event_id,
        retries=visit.retries,
    )
    # A caught error still ends in *StateExited, so success also needs no unretried failure.
    final_failures = [failure for failure in visit.failures if not failure.retried]
    facts.succeeded = visit.exited_event_id is not None and not final_failures
    if final_failures:
        facts.error = final_failures[-1].error
        facts.cause = final_failures[-1].cause
    if facts.succeeded:
        for attribute, value_name in (
            ("status_code", "final_merge_status"),
            ("total_embeddings", "final_total_embeddings"),
            ("snapshot_key", "snapshot_key"),
        ):
            observed = values.get(value_name)
            if observed is not None:
                setattr(facts, attribute, observed.value)
    return facts
