"""Top-level keys that a state's output carried and a later state's output lost.

Only top-level visits are compared, in the order they were entered. At the top level each state's
input is the previous state's output. So a key that disappears between two outputs was dropped by
the state that produced the second one, through Parameters, ResultSelector, ResultPath or
OutputPath.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from sfn_forensics.history.model import ExecutionRun, StateVisit

log = logging.getLogger(__name__)

KeyDropKind = Literal["missing", "null"]


@dataclass(frozen=True)
class KeyDrop:
    """A top-level key that one state's output carried with a value and a later output lost."""

    key: str
    # The state whose output carried the key first, or None when it came from the execution input.
    producer_state: str | None
    # Its *StateExited event id, or the ExecutionStarted event id for the execution input.
    producer_event_id: int | None
    # The last state whose output still carried the key: the dropping state's input came from it.
    last_carrier_state: str | None
    last_carrier_event_id: int | None
    dropping_state: str
    dropping_state_type: str
    dropping_event_id: int | None
    became: KeyDropKind

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "producer_state": self.producer_state,
            "producer_event_id": self.producer_event_id,
            "last_carrier_state": self.last_carrier_state,
            "last_carrier_event_id": self.last_carrier_event_id,
            "dropping_state": self.dropping_state,
            "dropping_state_type": self.dropping_state_type,
            "dropping_event_id": self.dropping_event_id,
            "became": self.became,
        }


@dataclass
class _Carrier:
    """Origin and last sighting of a tracked key."""

    producer_state: str | None
    producer_event_id: int | None
    last_state: str | None
    last_event_id: int | None


_UNREADABLE = object()


def _readable_output(text: str | None, truncated: bool) -> Any:
    """Return the parsed JSON document, or `_UNREADABLE` when it is absent, truncated or invalid."""
    if text is None or truncated:
        return _UNREADABLE
    try:
        return json.loads(text)
    except ValueError:
        return _UNREADABLE


def _carried_keys(document: Any) -> list[str]:
    if not isinstance(document, dict):
        return []
    return [key for key, value in document.items() if value is not None]


def _loss(document: Any, key: str) -> KeyDropKind | None:
    """Return how `document` lost `key`, or None when it still carries a value."""
    if not isinstance(document, dict) or key not in document:
        return "missing"
    if document[key] is None:
        return "null"
    return None


def track_key_drops(run: ExecutionRun) -> list[KeyDrop]:
    """List the top-level keys dropped between top-level state outputs, in order of the drops.

    A key is tracked from the first output (or the execution input) that carries it with a
    non-null value and is reported at the first later output that lacks it or has it null. A key
    that comes back is tracked again from there. An absent, truncated or non-JSON output ends the
    tracking of every key, because what it carried is unknown. Tracking restarts at the next
    readable output.
    """
    tracked: dict[str, _Carrier] = {}
    drops: list[KeyDrop] = []
    execution_input = _readable_output(run.input, run.input_truncated)
    for key in _carried_keys(execution_input):
        tracked[key] = _Carrier(None, run.started_event_id, None, run.started_event_id)

    for visit in run.top_level_visits:
        if visit.exited_event_id is None:
            continue
        document = _readable_output(visit.output, visit.output_truncated)
        if document is _UNREADABLE:
            if tracked:
                log.debug(
                    "output of %s (event %s) is unreadable; stopped tracking %d keys",
                    visit.name,
                    visit.exited_event_id,
                    len(tracked),
                )
            tracked.clear()
            continue
        drops.extend(_drops_at(visit, document, tracked))
        _track_new_keys(visit, document, tracked)
    return drops


def _drops_at(visit: StateVisit, document: Any, tracked: dict[str, _Carrier]) -> list[KeyDrop]:
    drops: list[KeyDrop] = []
    for key in list(tracked):
        became = _loss(document, key)
        if became is None:
            continue
        carrier = tracked.pop(key)
        drops.append(
            KeyDrop(
                key=key,
                producer_state=carrier.producer_state,
                producer_event_id=carrier.producer_event_id,
                last_carrier_state=carrier.last_state,
                last_carrier_event_id=carrier.last_event_id,
                dropping_state=visit.name,
                dropping_state_type=visit.state_type,
                dropping_event_id=visit.exited_event_id,
                became=became,
            )
        )
    return drops


def _track_new_keys(visit: StateVisit, document: Any, tracked: dict[str, _Carrier]) -> None:
    for key in _carried_keys(document):
        carrier = tracked.get(key)
        if carrier is None:
            tracked[key] = _Carrier(
                visit.name, visit.exited_event_id, visit.name, visit.exited_event_id
            )
        else:
            carrier.last_state = visit.name
            carrier.last_event_id = visit.exited_event_id
