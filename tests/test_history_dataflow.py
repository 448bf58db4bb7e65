"""`track_key_drops` on histories built in code and on one recorded AWS history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sfn_forensics.history.dataflow import KeyDrop, track_key_drops
from sfn_forensics.history.model import ExecutionRun
from sfn_forensics.history.parser import parse_history

T0 = datetime(2025, 1, 1, tzinfo=UTC)

# (state name, state type, output) for each top-level state, in order. An output of None is
# written as a truncated output.
Step = tuple[str, str, Any]


def _event(event_id: int, previous: int, event_type: str, **details: Any) -> dict[str, Any]:
    key = {
        "ExecutionStarted": "executionStartedEventDetails",
        "ExecutionSucceeded": "executionSucceededEventDetails",
    }.get(event_type)
    if key is None:
        key = "stateEnteredEventDetails" if "Entered" in event_type else "stateExitedEventDetails"
    return {
        "id": event_id,
        "previousEventId": previous,
        "type": event_type,
        "timestamp": T0 + timedelta(seconds=event_id),
        key: details,
    }


def _run(steps: list[Step], execution_input: Any = None) -> ExecutionRun:
    """Build a SUCCEEDED run whose top-level states produce the given outputs in order."""
    first_input = json.dumps(execution_input if execution_input is not None else {})
    events = [_event(1, 0, "ExecutionStarted", input=first_input, inputDetails={})]
    previous = 0
    for name, state_type, output in steps:
        entered = len(events) + 1
        events.append(_event(entered, previous, f"{state_type}StateEntered", name=name))
        truncated = output is None
        text = "{" if truncated else json.dumps(output)
        events.append(
            _event(
                entered + 1,
                entered,
                f"{state_type}StateExited",
                name=name,
                output=text,
                outputDetails={"truncated": truncated},
            )
        )
        previous = entered + 1
    events.append(_event(len(events) + 1, previous, "ExecutionSucceeded", output="{}"))
    return parse_history(events)


def _keys(drops: list[KeyDrop]) -> list[tuple[str, str, str]]:
    return [(drop.key, drop.dropping_state, drop.became) for drop in drops]


MERGE_RESULT = {"bucket": "words", "key": "merged/final.json", "count": 459}


def _word_pipeline() -> ExecutionRun:
    return _run(
        [
            ("WordFinalMerge", "Task", {"batch_id": "b-1", "final_merge_result": MERGE_RESULT}),
            ("PrepareMarkWordBatchesComplete", "Pass", {"batch_id": "b-1"}),
            ("MarkWordBatchesComplete", "Task", {"batch_id": "b-1", "marked": True}),
        ]
    )


def test_key_drops_pass_parameters_drop() -> None:
    run = _word_pipeline()
    assert run.status == "SUCCEEDED"
    drops = track_key_drops(run)
    assert _keys(drops) == [("final_merge_result", "PrepareMarkWordBatchesComplete", "missing")]


def test_key_drops_pass_parameters_evidence() -> None:
    run = _word_pipeline()
    drop = track_key_drops(run)[0]
    merge = run.visits_of("WordFinalMerge")[0]
    prepare = run.visits_of("PrepareMarkWordBatchesComplete")[0]
    assert drop.producer_state == "WordFinalMerge"
    assert drop.producer_event_id == merge.exited_event_id
    assert drop.last_carrier_state == "WordFinalMerge"
    assert drop.dropping_state_type == "Pass"
    assert drop.dropping_event_id == prepare.exited_event_id


def test_key_drops_to_json() -> None:
    drop = track_key_drops(_word_pipeline())[0]
    document = drop.to_json()
    assert document["key"] == "final_merge_result"
    assert document["became"] == "missing"
    assert json.loads(json.dumps(document)) == document


def test_key_drops_became_null() -> None:
    run = _run(
        [
            ("Fetch", "Task", {"result": {"rows": 3}, "id": 1}),
            ("Clear", "Pass", {"result": None, "id": 1}),
        ]
    )
    assert _keys(track_key_drops(run)) == [("result", "Clear", "null")]


def test_key_drops_counted_once() -> None:
    run = _run(
        [
            ("Make", "Pass", {"token": "t"}),
            ("Lose", "Pass", {}),
            ("StillLost", "Pass", {"other": 1}),
        ]
    )
    assert _keys(track_key_drops(run)) == [("token", "Lose", "missing")]


def test_key_drops_readded_tracked_again() -> None:
    run = _run(
        [
            ("Make", "Pass", {"token": "t"}),
            ("Lose", "Pass", {}),
            ("Restore", "Pass", {"token": "t2"}),
            ("Carry", "Pass", {"token": "t2"}),
            ("LoseAgain", "Pass", {"token": None}),
        ]
    )
    drops = track_key_drops(run)
    assert _keys(drops) == [("token", "Lose", "missing"), ("token", "LoseAgain", "null")]
    assert drops[1].producer_state == "Restore"
    assert drops[1].last_carrier_state == "Carry"


def test_key_drops_truncated_output_skipped() -> None:
    run = _run(
        [
            ("Make", "Pass", {"token": "t", "keep": 1}),
            ("Huge", "Task", None),
            ("After", "Pass", {"keep": 1}),
        ]
    )
    assert run.visits_of("Huge")[0].output_truncated is True
    assert track_key_drops(run) == []


def test_key_drops_tracking_resumes_after_truncated() -> None:
    run = _run(
        [
            ("Huge", "Task", None),
            ("Make", "Pass", {"token": "t"}),
            ("Lose", "Pass", {}),
        ]
    )
    assert _keys(track_key_drops(run)) == [("token", "Lose", "missing")]


def test_key_drops_non_object_output() -> None:
    run = _run([("Make", "Pass", {"token": "t"}), ("Fan", "Map", [1, 2])])
    drops = track_key_drops(run)
    assert _keys(drops) == [("token", "Fan", "missing")]
    assert drops[0].dropping_state_type == "Map"


def test_key_drops_execution_input() -> None:
    run = _run([("First", "Pass", {"b": 2})], execution_input={"a": 1, "b": 2, "c": None})
    drops = track_key_drops(run)
    assert _keys(drops) == [("a", "First", "missing")]
    assert drops[0].producer_state is None
    assert drops[0].producer_event_id == 1


def test_key_drops_nothing_dropped() -> None:
    run = _run([("A", "Pass", {"k": 1}), ("B", "Pass", {"k": 2, "j": 3})])
    assert track_key_drops(run) == []


def test_key_drops_ignores_iteration_outputs() -> None:
    events = [
        _event(1, 0, "ExecutionStarted", input="{}"),
        _event(2, 0, "PassStateEntered", name="Make"),
        _event(3, 2, "PassStateExited", name="Make", output='{"token":"t"}'),
        _event(4, 3, "MapStateEntered", name="Fan"),
        {"id": 5, "previousEventId": 4, "type": "MapStateStarted"},
        {
            "id": 6,
            "previousEventId": 5,
            "type": "MapIterationStarted",
            "mapIterationStartedEventDetails": {"index": 0, "name": "Fan"},
        },
        _event(7, 6, "PassStateEntered", name="Item"),
        _event(8, 7, "PassStateExited", name="Item", output="{}"),
        _event(9, 8, "MapStateExited", name="Fan", output='{"token":"t"}'),
    ]
    run = parse_history(events)
    assert run.path == ["Make", "Fan"]
    assert track_key_drops(run) == []


def test_key_drops_recorded_null_paths(recorded_fixtures: Path) -> None:
    document = json.loads((recorded_fixtures / "pass-parameters-null-paths.json").read_text())
    run = parse_history(document["events"], document.get("describe_execution"))
    drops = track_key_drops(run)
    assert _keys(drops) == [
        ("InputValue", "State0", "missing"),
        ("Arg1", "State1", "missing"),
        ("FromInput", "State2", "missing"),
        ("Arg2", "State2", "missing"),
    ]
    assert [drop.producer_state for drop in drops] == [None, "State0", "State0", "State1"]
    assert [drop.dropping_event_id for drop in drops] == [3, 5, 7, 7]
