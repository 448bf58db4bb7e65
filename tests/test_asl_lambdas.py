"""Offline tests of the Lambda functions found in definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfn_forensics.asl import LambdaRef, lambda_functions, log_group_for, parse_definition

ACCOUNT = "123456789012"


def _refs(*tasks: dict[str, Any], query_language: str = "JSONPath") -> list[LambdaRef]:
    states = {f"T{index}": {**task, "End": True} for index, task in enumerate(tasks)}
    return lambda_functions(
        parse_definition({"StartAt": "T0", "QueryLanguage": query_language, "States": states})
    )


def _invoke(function_name: Any, **parameters: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_name, "Payload.$": "$", **parameters},
    }


def test_lambda_functions_resource_arn() -> None:
    task = {"Type": "Task", "Resource": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:embed"}
    assert _refs(task) == [LambdaRef("T0", "embed", None, "eu-west-1", ACCOUNT, dynamic=False)]


def test_lambda_functions_resource_arn_alias() -> None:
    task = {"Type": "Task", "Resource": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:embed:live"}
    (ref,) = _refs(task)
    assert ref.function_name == "embed"
    assert ref.qualifier == "live"


@pytest.mark.parametrize(
    ("function_name", "expected"),
    [
        ("embed", ("embed", None, None, None)),
        ("embed:7", ("embed", "7", None, None)),
        (f"{ACCOUNT}:function:embed", ("embed", None, None, ACCOUNT)),
        (f"{ACCOUNT}:function:embed:live", ("embed", "live", None, ACCOUNT)),
        (
            f"arn:aws:lambda:us-east-2:{ACCOUNT}:function:embed",
            ("embed", None, "us-east-2", ACCOUNT),
        ),
        (
            f"arn:aws:lambda:us-east-2:{ACCOUNT}:function:embed:$LATEST",
            ("embed", "$LATEST", "us-east-2", ACCOUNT),
        ),
    ],
)
def test_lambda_functions_invoke_name_forms(
    function_name: str, expected: tuple[str, str | None, str | None, str | None]
) -> None:
    (ref,) = _refs(_invoke(function_name))
    assert (ref.function_name, ref.qualifier, ref.region, ref.account) == expected
    assert not ref.dynamic


def test_lambda_functions_qualifier_argument() -> None:
    (ref,) = _refs(_invoke("embed", Qualifier="prod"))
    assert ref.qualifier == "prod"


def test_lambda_functions_wait_for_task_token() -> None:
    task = _invoke("approve")
    task["Resource"] = "arn:aws:states:::lambda:invoke.waitForTaskToken"
    (ref,) = _refs(task)
    assert ref.function_name == "approve"


def test_lambda_functions_sdk_integration() -> None:
    task = _invoke("embed")
    task["Resource"] = "arn:aws:states:::aws-sdk:lambda:invoke"
    (ref,) = _refs(task)
    assert ref.function_name == "embed"


def test_lambda_functions_dynamic_path() -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName.$": "$.fn", "Payload.$": "$"},
    }
    (ref,) = _refs(task)
    assert ref.dynamic
    assert ref.function_name is None
    assert ref.function_name_source == "$.fn"


def test_lambda_functions_jsonata_arguments() -> None:
    static = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "embed:live", "Payload": "{% $states.input %}"},
    }
    dynamic = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "{% $states.input.fn %}"},
    }
    first, second = _refs(static, dynamic, query_language="JSONata")
    assert (first.function_name, first.qualifier, first.dynamic) == ("embed", "live", False)
    assert second.dynamic
    assert second.function_name_source == "{% $states.input.fn %}"


def test_lambda_functions_ignores_other_tasks() -> None:
    tasks: list[dict[str, Any]] = [
        {"Type": "Task", "Resource": "arn:aws:states:::s3:getObject", "Parameters": {}},
        {"Type": "Task", "Resource": f"arn:aws:states:us-east-1:{ACCOUNT}:activity:review"},
        {"Type": "Pass", "Parameters": {"FunctionName": "not-a-call"}},
    ]
    assert _refs(*tasks) == []


def test_lambda_functions_inside_map() -> None:
    definition = {
        "StartAt": "PerBatch",
        "States": {
            "PerBatch": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Embed",
                    "States": {"Embed": {**_invoke("embed"), "End": True}},
                },
                "End": True,
            }
        },
    }
    (ref,) = lambda_functions(parse_definition(definition))
    assert ref.state_name == "Embed"


def test_log_group_for_static() -> None:
    (ref,) = _refs(_invoke(f"arn:aws:lambda:us-east-2:{ACCOUNT}:function:embed:live"))
    assert log_group_for(ref) == "/aws/lambda/embed"


def test_log_group_for_dynamic_raises() -> None:
    ref = LambdaRef("T0", None, None, None, None, True, "$.fn")
    with pytest.raises(ValueError, match=r"\$\.fn"):
        log_group_for(ref)


def test_lambda_functions_recorded(recorded_fixtures: Path) -> None:
    expected = {
        "lambda-function-success.json": [
            ("step1", "<lambda_function_1_name>", False),
            ("step2", "<lambda_function_2_name>", False),
        ],
        "lambda-function-catch.json": [("Start", "<lambda_function_name>", False)],
        "lambda-invoke-success.json": [("Start", None, True)],
        "lambda-invoke-retry.json": [("InvokeLambdaWithRetry", None, True)],
        "inline-map.json": [],
        "choice-path-based-on-data.json": [],
    }
    for file, refs in expected.items():
        document = json.loads((recorded_fixtures / file).read_text())
        found = lambda_functions(parse_definition(document["definition"]))
        assert [(ref.state_name, ref.function_name, ref.dynamic) for ref in found] == refs, file


def test_lambda_functions_recorded_account(recorded_fixtures: Path) -> None:
    document = json.loads((recorded_fixtures / "lambda-function-catch.json").read_text())
    (ref,) = lambda_functions(parse_definition(document["definition"]))
    assert ref.account == "111111111111"
    assert log_group_for(ref) == "/aws/lambda/<lambda_function_name>"
