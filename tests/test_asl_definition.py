"""Offline tests of definition parsing, Choice thresholds and JMESPath look-ups."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sfn_forensics.asl import (
    JSONATA,
    JSONPATH,
    Definition,
    canonical_path,
    choice_threshold,
    parse_definition,
    value_at,
)

NESTED: dict[str, Any] = {
    "Comment": "Map inside Parallel, plus a legacy Iterator",
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "PerChunk",
                    "States": {
                        "PerChunk": {
                            "Type": "Map",
                            "ItemsPath": "$.chunks",
                            "ItemProcessor": {
                                "ProcessorConfig": {"Mode": "INLINE"},
                                "StartAt": "Embed",
                                "States": {"Embed": {"Type": "Pass", "End": True}},
                            },
                            "End": True,
                        }
                    },
                },
                {"StartAt": "Count", "States": {"Count": {"Type": "Pass", "End": True}}},
            ],
            "Next": "Legacy",
        },
        "Legacy": {
            "Type": "Map",
            "Parameters": {"item.$": "$$.Map.Item.Value"},
            "Iterator": {
                "StartAt": "Inner",
                "States": {"Inner": {"Type": "Succeed"}},
            },
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}

CHOICES: dict[str, Any] = {
    "StartAt": "ChunkCount",
    "States": {
        "ChunkCount": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.status", "StringEquals": "done", "Next": "Done"},
                {
                    "Variable": "$.total_chunks",
                    "NumericGreaterThan": 4,
                    "Next": "CreateChunkGroups",
                },
            ],
            "Default": "Done",
        },
        "Nested": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.total_chunks", "IsPresent": True},
                        {"Not": {"Variable": "$.total_chunks", "NumericLessThanEquals": 2.5}},
                    ],
                    "Next": "Many",
                }
            ],
            "Default": "Done",
        },
        "ByPath": {
            "Type": "Choice",
            "Choices": [
                {
                    "Or": [
                        {"Variable": "$['total_chunks']", "NumericGreaterThanPath": "$.limit"},
                    ],
                    "Next": "Many",
                }
            ],
            "Default": "Done",
        },
        "Jsonata": {
            "Type": "Choice",
            "QueryLanguage": "JSONata",
            "Choices": [
                {"Condition": "{% $states.input.status = 'x' %}", "Next": "Done"},
                {"Condition": "{% $states.input.total_chunks >= 10 %}", "Next": "Many"},
            ],
            "Default": "Done",
        },
        "JsonataReversed": {
            "Type": "Choice",
            "QueryLanguage": "JSONata",
            "Choices": [{"Condition": "{% 4 < $states.input.total_chunks %}", "Next": "Many"}],
            "Default": "Done",
        },
        "JsonataComplex": {
            "Type": "Choice",
            "QueryLanguage": "JSONata",
            "Choices": [
                {"Condition": "{% $count($states.input.chunks) > 4 %}", "Next": "Many"},
            ],
            "Default": "Done",
        },
        "Many": {"Type": "Pass", "End": True},
        "CreateChunkGroups": {"Type": "Pass", "End": True},
        "Done": {"Type": "Succeed"},
    },
}


def _recorded_definitions(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(directory.glob("*.json")):
        if path.name == "INDEX.json":
            continue
        definition = json.loads(path.read_text())["definition"]
        if definition is not None:
            found.append((path.name, definition))
    return found


def _count_states(machine: dict[str, Any]) -> int:
    total = 0
    for state in machine["States"].values():
        total += 1
        processor = state.get("ItemProcessor", state.get("Iterator"))
        if processor is not None:
            total += _count_states(processor)
        for branch in state.get("Branches", []):
            total += _count_states(branch)
    return total


def test_parse_definition_accepts_str_bytes_dict() -> None:
    text = json.dumps(NESTED)
    for source in (text, text.encode(), NESTED):
        defn = parse_definition(source)
        assert defn.start_at == "Fan"
        assert defn.query_language == JSONPATH


def test_parse_definition_flattens_scopes() -> None:
    defn = parse_definition(NESTED)
    scopes = {name: state.scope for name, state in defn.states.items()}
    assert scopes == {
        "Fan": (),
        "PerChunk": ("Fan",),
        "Embed": ("Fan", "PerChunk"),
        "Count": ("Fan",),
        "Legacy": (),
        "Inner": ("Legacy",),
        "Done": (),
    }


def test_parse_definition_document_order() -> None:
    defn = parse_definition(NESTED)
    assert list(defn.states) == ["Fan", "PerChunk", "Embed", "Count", "Legacy", "Inner", "Done"]


def test_definition_top_level_names() -> None:
    defn = parse_definition(NESTED)
    assert defn.top_level_names() == ["Fan", "Legacy", "Done"]
    assert defn.names_in_scope(("Fan",)) == ["PerChunk", "Count"]


def test_definition_get_missing_state() -> None:
    defn = parse_definition(NESTED)
    assert defn.get("Nope") is None
    embed = defn.get("Embed")
    assert embed is not None
    assert embed.type == "Pass"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ({"States": {}}, "StartAt"),
        ({"StartAt": "A"}, "States is missing"),
        ({"StartAt": "A", "States": {"A": {"End": True}}}, "has no Type"),
        ({"StartAt": "A", "States": {"A": "Pass"}}, "not an object"),
        ({"StartAt": "A", "QueryLanguage": "XPath", "States": {}}, "QueryLanguage"),
        ({"StartAt": "A", "States": {"A": {"Type": "Map", "End": True}}}, "ItemProcessor"),
        ({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": True}}}, "Branches"),
    ],
)
def test_parse_definition_rejects_invalid(source: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_definition(source)


def test_parse_definition_duplicates_keep_first(caplog: pytest.LogCaptureFixture) -> None:
    source = {
        "StartAt": "Outer",
        "States": {
            "Outer": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Step",
                    "States": {"Step": {"Type": "Pass", "Result": 1, "End": True}},
                },
                "Next": "Step",
            },
            "Step": {"Type": "Pass", "Result": 2, "End": True},
        },
    }
    with caplog.at_level(logging.WARNING, logger="sfn_forensics.asl.definition"):
        defn = parse_definition(source)
    step = defn.get("Step")
    assert step is not None
    assert step.scope == ("Outer",)
    assert defn.duplicate_names == ("Step",)
    assert "'Step'" in caplog.text


def test_state_query_language_inherited_and_own() -> None:
    defn = parse_definition(
        {
            "StartAt": "A",
            "QueryLanguage": "JSONPath",
            "States": {
                "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Next": "B"},
                "B": {"Type": "Pass", "End": True},
            },
        }
    )
    a, b = defn.get("A"), defn.get("B")
    assert a is not None
    assert b is not None
    assert a.query_language == JSONATA
    assert a.is_jsonata
    assert b.query_language == JSONPATH


def test_state_query_language_from_top_level() -> None:
    defn = parse_definition(
        {"StartAt": "A", "QueryLanguage": "JSONata", "States": {"A": {"Type": "Pass", "End": True}}}
    )
    state = defn.get("A")
    assert defn.query_language == JSONATA
    assert state is not None
    assert state.query_language == JSONATA


def test_state_path_fields_absent_null_explicit() -> None:
    defn = parse_definition(
        {
            "StartAt": "Absent",
            "States": {
                "Absent": {"Type": "Pass", "Next": "Null"},
                "Null": {
                    "Type": "Pass",
                    "InputPath": None,
                    "ResultPath": None,
                    "OutputPath": None,
                    "Next": "Explicit",
                },
                "Explicit": {
                    "Type": "Pass",
                    "InputPath": "$.a",
                    "ResultPath": "$",
                    "OutputPath": "$.b",
                    "End": True,
                },
            },
        }
    )
    absent, null, explicit = defn.get("Absent"), defn.get("Null"), defn.get("Explicit")
    assert absent is not None
    assert null is not None
    assert explicit is not None

    assert absent.result_path == "$"
    assert not absent.declares("ResultPath")
    assert absent.output_path == "$"
    assert absent.input_path == "$"

    assert null.result_path is None
    assert null.declares("ResultPath")
    assert null.output_path is None
    assert null.input_path is None

    assert explicit.result_path == "$"
    assert explicit.declares("ResultPath")
    assert explicit.output_path == "$.b"
    assert explicit.input_path == "$.a"


def test_state_accessors_task() -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$"},
        "ResultSelector": {"body.$": "$.Payload"},
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
        "Assign": {"attempts": 1},
        "Next": "Done",
    }
    defn = parse_definition({"StartAt": "T", "States": {"T": task, "Done": {"Type": "Succeed"}}})
    state = defn.get("T")
    assert state is not None
    assert state.resource == "arn:aws:states:::lambda:invoke"
    assert state.parameters == {"FunctionName": "f", "Payload.$": "$"}
    assert state.result_selector == {"body.$": "$.Payload"}
    assert state.retry == [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]
    assert state.catch == [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]
    assert state.assign == {"attempts": 1}
    assert state.next == "Done"
    assert not state.end
    assert state.items_path is None
    assert state.max_concurrency is None


def test_state_accessors_map() -> None:
    defn = parse_definition(NESTED)
    per_chunk, legacy = defn.get("PerChunk"), defn.get("Legacy")
    assert per_chunk is not None
    assert legacy is not None
    assert per_chunk.items_path == "$.chunks"
    assert per_chunk.end
    assert legacy.items_path == "$"
    assert legacy.item_selector == {"item.$": "$$.Map.Item.Value"}


def test_state_accessors_jsonata() -> None:
    state_json = {
        "Type": "Map",
        "QueryLanguage": "JSONata",
        "Items": "{% $states.input.chunks %}",
        "MaxConcurrency": 5,
        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}},
        "Output": {"n": "{% $count($states.result) %}"},
        "End": True,
    }
    defn = parse_definition({"StartAt": "M", "States": {"M": state_json}})
    state = defn.get("M")
    assert state is not None
    assert state.items == "{% $states.input.chunks %}"
    assert state.items_path is None
    assert state.max_concurrency == 5
    assert state.output == {"n": "{% $count($states.result) %}"}
    assert state.arguments is None


def test_state_accessors_choice() -> None:
    defn = parse_definition(CHOICES)
    state = defn.get("ChunkCount")
    assert state is not None
    assert len(state.choices) == 2
    assert state.default == "Done"


def test_parse_definition_recorded_fixtures(recorded_fixtures: Path) -> None:
    definitions = _recorded_definitions(recorded_fixtures)
    assert definitions, "no recorded definitions found"
    for name, source in definitions:
        defn = parse_definition(source)
        assert len(defn.states) == _count_states(source), name
        assert defn.start_at in defn.states, name


def test_parse_definition_recorded_transitions_resolve(recorded_fixtures: Path) -> None:
    for name, source in _recorded_definitions(recorded_fixtures):
        defn = parse_definition(source)
        for state in defn.states.values():
            targets = [state.next, state.default]
            targets += [rule.get("Next") for rule in state.choices]
            targets += [catcher.get("Next") for catcher in state.catch]
            for target in targets:
                if target is None:
                    continue
                resolved = defn.get(target)
                assert resolved is not None, f"{name}: {state.name} -> {target}"
                assert resolved.scope == state.scope, f"{name}: {state.name} -> {target}"


def test_parse_definition_recorded_jsonata(recorded_fixtures: Path) -> None:
    source = json.loads((recorded_fixtures / "jsonata-evaluation-failed.json").read_text())
    defn = parse_definition(source["definition"])
    state = defn.get("State2")
    assert state is not None
    assert state.is_jsonata
    assert state.output == {"result": "{% $doesNotExist %}"}


def test_choice_threshold_incident_rule() -> None:
    found = choice_threshold(parse_definition(CHOICES), "ChunkCount", "$.total_chunks")
    assert found is not None
    assert found.operator == "NumericGreaterThan"
    assert found.value == 4
    assert found.next_state == "CreateChunkGroups"
    assert found.rule_index == 1
    assert not found.negated


def test_choice_threshold_inside_and_not() -> None:
    found = choice_threshold(parse_definition(CHOICES), "Nested", "$.total_chunks")
    assert found is not None
    assert found.operator == "NumericLessThanEquals"
    assert found.value == 2.5
    assert found.negated
    assert found.next_state == "Many"


def test_choice_threshold_path_comparison() -> None:
    found = choice_threshold(parse_definition(CHOICES), "ByPath", "$.total_chunks")
    assert found is not None
    assert found.operator == "NumericGreaterThan"
    assert found.value is None
    assert found.value_path == "$.limit"


def test_choice_threshold_jsonata_condition() -> None:
    found = choice_threshold(parse_definition(CHOICES), "Jsonata", "$.total_chunks")
    assert found is not None
    assert found.operator == "NumericGreaterThanEquals"
    assert found.value == 10
    assert found.next_state == "Many"
    assert found.rule_index == 1


def test_choice_threshold_jsonata_reversed() -> None:
    found = choice_threshold(parse_definition(CHOICES), "JsonataReversed", "$.total_chunks")
    assert found is not None
    assert found.operator == "NumericGreaterThan"
    assert found.value == 4


def test_choice_threshold_states_input_variable() -> None:
    defn = parse_definition(CHOICES)
    found = choice_threshold(defn, "Jsonata", "$states.input.total_chunks")
    assert found is not None
    assert found.value == 10


def test_choice_threshold_none_cases() -> None:
    defn = parse_definition(CHOICES)
    assert choice_threshold(defn, "JsonataComplex", "$.chunks") is None
    assert choice_threshold(defn, "ChunkCount", "$.other") is None
    assert choice_threshold(defn, "ChunkCount", "$.status") is None
    assert choice_threshold(defn, "Many", "$.total_chunks") is None
    assert choice_threshold(defn, "Missing", "$.total_chunks") is None


def test_choice_threshold_recorded(recorded_fixtures: Path) -> None:
    source = json.loads((recorded_fixtures / "choice-path-based-on-data.json").read_text())
    found = choice_threshold(parse_definition(source["definition"]), "Choice State", "$.value")
    assert found is not None
    assert found.operator == "NumericEquals"
    assert found.value == 0
    assert found.next_state == "NEXT_STATE_TWO"
    assert found.rule_index == 1


def test_value_at_parameters() -> None:
    defn = _value_definition()
    assert value_at(defn, "Group", "Parameters.group_size") == 4
    assert value_at(defn, "Group", 'Parameters."chunks.$"') == "$.chunks"
    assert value_at(defn, "Group", "Retry[0].MaxAttempts") == 3


def test_value_at_missing() -> None:
    defn = _value_definition()
    assert value_at(defn, "Group", "Parameters.nope") is None
    assert value_at(defn, "Missing", "Parameters.group_size") is None


def test_value_at_invalid_expression() -> None:
    with pytest.raises(ValueError, match="invalid JMESPath expression"):
        value_at(_value_definition(), "Group", "Parameters.[")


def test_canonical_path_brackets() -> None:
    assert canonical_path("$['a'][\"b\"].c") == "$.a.b.c"
    assert canonical_path("$.a[0]") == "$.a[0]"


def _value_definition() -> Definition:
    return parse_definition(
        {
            "StartAt": "Group",
            "States": {
                "Group": {
                    "Type": "Pass",
                    "Parameters": {"group_size": 4, "chunks.$": "$.chunks"},
                    "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
                    "End": True,
                }
            },
        }
    )
