"""Offline tests of key-drop explanations and key reads, on hand-written and recorded states."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfn_forensics.asl import StateDef, explain_key_drop, parse_definition, state_reads_key

INCIDENT_PASS: dict[str, Any] = {
    "Type": "Pass",
    "Parameters": {
        "batch_indices.$": "$.list_result.batch_indices",
        "poll_results_s3_key.$": "$.poll_results_data.poll_results_s3_key",
    },
    "Next": "MarkWordBatchesComplete",
}
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def _state(raw: dict[str, Any], name: str = "S", query_language: str = "JSONPath") -> StateDef:
    """Parse a single-state definition and return that state."""
    states: dict[str, Any] = {name: {**raw}}
    state_json = states[name]
    state_json.pop("Next", None)
    if raw["Type"] not in ("Choice", "Succeed", "Fail"):
        state_json.setdefault("End", True)
    defn = parse_definition({"StartAt": name, "QueryLanguage": query_language, "States": states})
    state = defn.get(name)
    assert state is not None
    return state


def _task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA_INVOKE, **fields}


def test_explain_key_drop_incident_pass() -> None:
    cause = explain_key_drop(_state(INCIDENT_PASS, "PrepareWordBatches"), "final_merge_result")
    assert cause.field == "Parameters"
    assert '"final_merge_result.$": "$.final_merge_result"' in cause.remedy
    assert '"ResultPath": "$.prepare_word_batches_result"' in cause.remedy
    assert "final_merge_result" in cause.explanation


def test_explain_key_drop_incident_with_output_keys() -> None:
    output_keys = {"batch_indices", "poll_results_s3_key"}
    cause = explain_key_drop(_state(INCIDENT_PASS), "final_merge_result", output_keys)
    assert cause.field == "Parameters"


def test_explain_key_drop_pass_carrying_key() -> None:
    state = _state(
        {**INCIDENT_PASS, "Parameters": {"final_merge_result.$": "$.final_merge_result"}}
    )
    assert explain_key_drop(state, "final_merge_result").field == "unknown"


def test_explain_key_drop_pass_sub_path() -> None:
    state = _state({**INCIDENT_PASS, "ResultPath": "$.batches"})
    assert explain_key_drop(state, "final_merge_result").field == "unknown"


def test_explain_key_drop_pass_result_replaces() -> None:
    cause = explain_key_drop(_state({"Type": "Pass", "Result": {"a": 1}}), "b")
    assert cause.field == "Result"
    assert '"ResultPath": "$.s_result"' in cause.remedy


def test_explain_key_drop_pass_explicit_root() -> None:
    state = _state({**INCIDENT_PASS, "ResultPath": "$"})
    cause = explain_key_drop(state, "final_merge_result")
    assert cause.field == "ResultPath"


def test_explain_key_drop_plain_pass() -> None:
    assert explain_key_drop(_state({"Type": "Pass"}), "a").field == "unknown"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (_task(), "ResultPath"),
        (_task(ResultPath="$"), "ResultPath"),
        (_task(ResultPath=None), "unknown"),
        (_task(ResultPath="$.out"), "unknown"),
        (_task(ResultPath="$.out", OutputPath="$"), "unknown"),
        (_task(ResultPath="$.out", OutputPath="$.out"), "OutputPath"),
        (_task(ResultPath="$.out", OutputPath=None), "OutputPath"),
        (_task(ResultPath="$.key"), "ResultPath"),
        (_task(ResultSelector={"body.$": "$.Payload"}), "ResultSelector"),
        (_task(ResultSelector={"key.$": "$.Payload.key"}), "unknown"),
        (_task(ResultSelector={"body.$": "$.Payload"}, ResultPath="$"), "ResultPath"),
        (_task(InputPath="$.sub", ResultPath="$.out"), "unknown"),
        ({"Type": "Pass", "InputPath": "$.sub"}, "InputPath"),
        ({"Type": "Pass", "InputPath": None}, "InputPath"),
        ({"Type": "Pass", "InputPath": "$.sub", "ResultPath": "$.copy"}, "unknown"),
        ({"Type": "Pass", "OutputPath": "$.sub"}, "OutputPath"),
        ({"Type": "Pass", "OutputPath": "$"}, "unknown"),
        ({"Type": "Wait", "Seconds": 1, "InputPath": "$.sub"}, "InputPath"),
        ({"Type": "Wait", "Seconds": 1, "OutputPath": "$.sub"}, "OutputPath"),
        ({"Type": "Succeed", "OutputPath": None}, "OutputPath"),
        ({"Type": "Fail", "Error": "E"}, "unknown"),
    ],
)
def test_explain_key_drop_jsonpath_cases(raw: dict[str, Any], field: str) -> None:
    assert explain_key_drop(_state(raw), "key").field == field


def test_explain_key_drop_task_default_note() -> None:
    cause = explain_key_drop(_state(_task(), "SummarizeChunks"), "key")
    assert "default ResultPath $ replaces the input with the result" in cause.explanation
    assert '"ResultPath": "$.summarize_chunks_result"' in cause.remedy


def test_explain_key_drop_task_parameters_mentioned() -> None:
    raw = _task(Parameters={"FunctionName": "f", "Payload": {"a.$": "$.a"}})
    cause = explain_key_drop(_state(raw), "key")
    assert cause.field == "ResultPath"
    assert "Parameters does not pass" in cause.explanation


def test_explain_key_drop_map_default_result_path() -> None:
    raw = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}},
        "ItemSelector": {"item.$": "$$.Map.Item.Value"},
    }
    cause = explain_key_drop(_state(raw), "key")
    assert cause.field == "ResultPath"
    assert "array" in cause.explanation


def test_explain_key_drop_output_path_remedy() -> None:
    cause = explain_key_drop(_state({"Type": "Pass", "OutputPath": "$.sub"}), "key")
    assert "Remove OutputPath" in cause.remedy
    assert '"$.sub"' in cause.explanation


def test_explain_key_drop_overwrite_null() -> None:
    cause = explain_key_drop(_state(_task(ResultPath="$.key")), "key", {"key", "other"})
    assert cause.field == "ResultPath"
    assert "null" in cause.explanation


def test_explain_key_drop_write_inside_key() -> None:
    cause = explain_key_drop(_state(_task(ResultPath="$.key.part")), "key", {"key"})
    assert cause.field == "ResultPath"
    assert "inside" in cause.explanation


def test_explain_key_drop_task_result_carries_key() -> None:
    cause = explain_key_drop(_state(_task()), "key", {"key", "StatusCode"})
    assert cause.field == "ResultPath"
    assert "has its own" in cause.explanation


def test_explain_key_drop_present_key_unchanged() -> None:
    cause = explain_key_drop(_state(_task(ResultPath="$.out")), "key", {"key", "out"})
    assert cause.field == "unknown"


def test_explain_key_drop_caught_error() -> None:
    raw = _task(ResultPath="$.out", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S"}])
    cause = explain_key_drop(_state(raw), "key", {"Error", "Cause"})
    assert cause.field == "Catch"
    assert '"ResultPath": "$.error"' in cause.remedy
    assert "States.ALL" in cause.explanation


def test_explain_key_drop_caught_flag() -> None:
    raw = _task(ResultPath="$.out", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S"}])
    assert explain_key_drop(_state(raw), "key", caught=True).field == "Catch"


def test_explain_key_drop_catch_keeps_input() -> None:
    catcher = {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "S"}
    raw = _task(ResultPath="$.out", Catch=[catcher])
    assert explain_key_drop(_state(raw), "key", caught=True).field == "unknown"


@pytest.mark.parametrize(
    ("raw", "output_keys", "field"),
    [
        ({"Type": "Pass", "Output": {"a": 1}}, None, "Output"),
        ({"Type": "Pass", "Output": {"key": "{% $states.input.key %}"}}, None, "unknown"),
        ({"Type": "Pass", "Output": "{% $states.input.sub %}"}, None, "Output"),
        ({"Type": "Pass", "Output": "{% $merge([$states.input, {'a': 1}]) %}"}, None, "unknown"),
        ({"Type": "Pass", "Output": "{% $merge([$states.input, {'a': 1}]) %}"}, {"a"}, "Output"),
        ({"Type": "Pass", "Output": None}, None, "Output"),
        ({"Type": "Pass"}, None, "unknown"),
        ({"Type": "Task", "Resource": LAMBDA_INVOKE}, None, "Output"),
        ({"Type": "Task", "Resource": LAMBDA_INVOKE}, {"key"}, "unknown"),
        ({"Type": "Pass", "Output": {"key": "{% $x %}"}}, {"key"}, "Output"),
    ],
)
def test_explain_key_drop_jsonata_cases(
    raw: dict[str, Any], output_keys: set[str] | None, field: str
) -> None:
    state = _state(raw, query_language="JSONata")
    assert explain_key_drop(state, "key", output_keys).field == field


def test_explain_key_drop_jsonata_output_remedy() -> None:
    state = _state({"Type": "Pass", "Output": {"a": 1}}, query_language="JSONata")
    cause = explain_key_drop(state, "key")
    assert '"key": "{% $states.input.key %}"' in cause.remedy


def test_explain_key_drop_jsonata_task_remedy() -> None:
    state = _state({"Type": "Task", "Resource": LAMBDA_INVOKE}, "Embed", "JSONata")
    cause = explain_key_drop(state, "key")
    assert "$merge([$states.input, {'embed_result': $states.result}])" in cause.remedy


def test_explain_key_drop_jsonata_assign_note() -> None:
    raw = {"Type": "Pass", "Output": {"a": 1}, "Assign": {"key": "{% $states.input.key %}"}}
    cause = explain_key_drop(_state(raw, query_language="JSONata"), "key")
    assert "$key" in cause.explanation


def _recorded_key_changes(directory: Path) -> list[tuple[str, str, str, set[str]]]:
    """List (file, state, key, output keys) for each input key that a recorded state changed."""
    changes = []
    for path in sorted(directory.glob("*.json")):
        if path.name == "INDEX.json":
            continue
        document = json.loads(path.read_text())
        inputs: dict[str, Any] = {}
        for event in document["events"]:
            if event["type"].endswith("StateEntered"):
                details = event["stateEnteredEventDetails"]
                inputs[details["name"]] = json.loads(details.get("input") or "null")
            elif event["type"].endswith("StateExited"):
                details = event["stateExitedEventDetails"]
                state_input = inputs.get(details["name"])
                output = json.loads(details.get("output") or "null")
                if not isinstance(state_input, dict):
                    continue
                output_object = output if isinstance(output, dict) else {}
                for key, value in state_input.items():
                    if key not in output_object or output_object[key] != value:
                        changes.append((path.name, details["name"], key, set(output_object)))
    return changes


EXPECTED_RECORDED_CAUSES = {
    ("distributed-map-reentrant.json", "BeforeIteration", "Iterations"): "Parameters",
    ("distributed-map-succeeded.json", "MapState", "content"): "ResultPath",
    ("inline-map-catch.json", "MapState", "arr"): "Catch",
    ("inline-map-item-selector.json", "MapState", "detail"): "ResultPath",
    ("lambda-function-catch.json", "Start", "FunctionName"): "Catch",
    ("lambda-function-catch.json", "Start", "Payload"): "Catch",
    ("lambda-function-data-limit-exceeded-catch.json", "InvokeLambda", "FunctionName"): "Catch",
    ("lambda-function-data-limit-exceeded-catch.json", "InvokeLambda", "Payload"): "Catch",
    ("lambda-function-success.json", "step2", "Return"): "ResultPath",
    ("lambda-invoke-retry.json", "InvokeLambdaWithRetry", "FunctionName"): "Catch",
    ("lambda-invoke-retry.json", "InvokeLambdaWithRetry", "Value1"): "Catch",
    ("lambda-invoke-retry.json", "InvokeLambdaWithRetry", "Value2"): "Catch",
    ("lambda-invoke-success.json", "Start", "FunctionName"): "ResultPath",
    ("lambda-invoke-success.json", "Start", "Payload"): "ResultPath",
    ("pass-assign-result-paths.json", "State1", "theQuestion"): "OutputPath",
    ("pass-parameters-null-paths.json", "State0", "InputValue"): "Parameters",
    ("pass-parameters-null-paths.json", "State1", "Arg1"): "Parameters",
    ("pass-parameters-null-paths.json", "State1", "FromInput"): "Parameters",
    ("pass-parameters-null-paths.json", "State2", "Arg2"): "OutputPath",
    ("pass-parameters-null-paths.json", "State2", "FromInput"): "OutputPath",
}


def test_explain_key_drop_recorded_histories(recorded_fixtures: Path) -> None:
    changes = _recorded_key_changes(recorded_fixtures)
    seen = {(file, state, key) for file, state, key, _ in changes}
    assert seen == set(EXPECTED_RECORDED_CAUSES)

    definitions: dict[str, Any] = {}
    for file, state_name, key, output_keys in changes:
        if file not in definitions:
            document = json.loads((recorded_fixtures / file).read_text())
            definitions[file] = parse_definition(document["definition"])
        state = definitions[file].get(state_name)
        assert state is not None
        cause = explain_key_drop(state, key, output_keys)
        assert cause.field == EXPECTED_RECORDED_CAUSES[(file, state_name, key)], (file, key)


def test_explain_key_drop_recorded_kept_keys(recorded_fixtures: Path) -> None:
    """States that kept every input key unchanged must not be blamed without output keys."""
    document = json.loads((recorded_fixtures / "inline-map.json").read_text())
    defn = parse_definition(document["definition"])
    state = defn.get("MapState")
    assert state is not None
    assert explain_key_drop(state, "arr").field == "unknown"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"Type": "Pass", "Parameters": {"x.$": "$.key"}}, True),
        ({"Type": "Pass", "Parameters": {"x.$": "$.key.sub"}}, True),
        ({"Type": "Pass", "Parameters": {"x.$": "$.key[0]"}}, True),
        ({"Type": "Pass", "Parameters": {"x.$": "$['key']"}}, True),
        ({"Type": "Pass", "Parameters": {"x.$": "$.keys"}}, False),
        ({"Type": "Pass", "Parameters": {"x.$": "$.other.key"}}, False),
        ({"Type": "Pass", "Parameters": {"x.$": "$$.Execution.Input.key"}}, False),
        ({"Type": "Pass", "Parameters": {"x.$": "$$.key"}}, False),
        ({"Type": "Pass", "Parameters": {"x.$": "$"}}, False),
        ({"Type": "Pass", "Parameters": {"x": "$.key"}}, False),
        ({"Type": "Pass", "Parameters": {"x.$": "States.Format('{}-{}', $.a, $.key)"}}, True),
        ({"Type": "Pass", "Parameters": {"x.$": "States.JsonToString($.key)"}}, True),
        ({"Type": "Pass", "Parameters": {"x.$": "States.MathAdd($.keyed, 1)"}}, False),
        ({"Type": "Pass", "Parameters": {"deep": {"inner": [{"x.$": "$.key"}]}}}, True),
        ({"Type": "Pass", "Result": {"x.$": "$.key"}}, False),
        ({"Type": "Pass", "InputPath": "$.key"}, True),
        ({"Type": "Pass", "InputPath": "$.sub", "Parameters": {"x.$": "$.key"}}, False),
        ({"Type": "Pass", "OutputPath": "$.key"}, True),
        ({"Type": "Pass", "ResultPath": "$.key"}, False),
        (_task(ResultSelector={"x.$": "$.key"}), False),
        (_task(OutputPath="$.key"), False),
        (_task(ResultPath="$.out", OutputPath="$.key"), True),
        (_task(Parameters={"Payload": {"k.$": "$.key"}}), True),
        (_task(TimeoutSecondsPath="$.key"), True),
        ({"Type": "Wait", "SecondsPath": "$.key"}, True),
        ({"Type": "Wait", "TimestampPath": "$.key.at"}, True),
        ({"Type": "Fail", "ErrorPath": "$.key"}, True),
        ({"Type": "Pass", "Assign": {"v.$": "$.key"}}, True),
        ({"Type": "Pass", "Result": {}, "Assign": {"v.$": "$.key"}}, False),
    ],
)
def test_state_reads_key_jsonpath(raw: dict[str, Any], expected: bool) -> None:
    assert state_reads_key(_state(raw), "key") is expected


def test_state_reads_key_choice_nested() -> None:
    raw = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.a", "StringEquals": "x", "Next": "S"},
            {
                "And": [{"Not": {"Variable": "$.b", "NumericGreaterThanPath": "$.key"}}],
                "Next": "S",
            },
        ],
        "Default": "S",
    }
    state = _state(raw)
    assert state_reads_key(state, "key")
    assert state_reads_key(state, "b")
    assert not state_reads_key(state, "c")


def test_state_reads_key_map_fields() -> None:
    raw = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": {"bucket.$": "$.bucket", "value.$": "$$.Map.Item.Value"},
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.batch_size"},
        "ItemProcessor": {
            "StartAt": "X",
            "States": {"X": {"Type": "Pass", "Parameters": {"x.$": "$.inner"}, "End": True}},
        },
    }
    state = _state(raw)
    assert state_reads_key(state, "items")
    assert state_reads_key(state, "bucket")
    assert state_reads_key(state, "batch_size")
    assert not state_reads_key(state, "inner")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"Type": "Pass", "Output": {"x": "{% $states.input.key %}"}}, True),
        ({"Type": "Pass", "Output": "{% $states.input.key.sub %}"}, True),
        ({"Type": "Pass", "Output": "{% $states.input['key'] %}"}, True),
        ({"Type": "Pass", "Output": "{% $states.input.`key` %}"}, True),
        ({"Type": "Pass", "Output": "{% $states.input.keys %}"}, False),
        ({"Type": "Pass", "Output": "{% $states.context.Execution.Input.key %}"}, False),
        ({"Type": "Pass", "Output": "$states.input.key"}, False),
        ({"Type": "Task", "Resource": LAMBDA_INVOKE, "Arguments": "{% $states.input.key %}"}, True),
        ({"Type": "Pass", "Assign": {"v": "{% $states.input.key %}"}}, True),
    ],
)
def test_state_reads_key_jsonata(raw: dict[str, Any], expected: bool) -> None:
    assert state_reads_key(_state(raw, query_language="JSONata"), "key") is expected


def test_state_reads_key_jsonata_condition() -> None:
    raw = {
        "Type": "Choice",
        "Choices": [{"Condition": "{% $states.input.total_chunks > 4 %}", "Next": "S"}],
        "Default": "S",
    }
    assert state_reads_key(_state(raw, query_language="JSONata"), "total_chunks")


def test_state_reads_key_recorded(recorded_fixtures: Path) -> None:
    cases = [
        ("wait-seconds-path.json", "WaitState", "input", True),
        ("distributed-map-run-failed.json", "MapState", "Bucket", True),
        ("distributed-map-run-failed.json", "MapState", "Key", True),
        ("distributed-map-succeeded.json", "MapState", "content", True),
        ("inline-map-item-selector.json", "MapState", "detail", True),
        ("inline-map-item-selector.json", "MapState", "shipped", False),
        ("choice-path-based-on-data.json", "Choice State", "value", True),
        ("choice-path-based-on-data.json", "Choice State", "type", True),
        ("lambda-invoke-retry.json", "InvokeLambdaWithRetry", "FunctionName", True),
        ("pass-assign-result-paths.json", "State1", "answer", False),
    ]
    for file, state_name, key, expected in cases:
        document = json.loads((recorded_fixtures / file).read_text())
        state = parse_definition(document["definition"]).get(state_name)
        assert state is not None, (file, state_name)
        assert state_reads_key(state, key) is expected, (file, state_name, key)
