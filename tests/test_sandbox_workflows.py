"""Offline checks of the sandbox state machine definitions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.workflows import (
    GROUP_SIZE,
    HIERARCHICAL_CHUNK_THRESHOLD,
    LAMBDA_FUNCTIONS,
    LINE_STATES,
    LINES_FIXED,
    WORD_STATES,
    WORDS_FAULTY,
    WORDS_FIXED,
    WORKFLOWS,
    definition_template,
    get_workflow,
    load_definition,
    render_definition,
)

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def _all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every state, including those inside Map item processors."""
    for name, state in states.items():
        yield name, state
        processor = state.get("ItemProcessor")
        if processor is not None:
            yield from _all_states(processor["States"])


def _tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: state for name, state in _all_states(definition["States"]) if state["Type"] == "Task"
    }


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_definition_states_match_state_names(name: str) -> None:
    workflow = get_workflow(name)
    definition = load_definition(name)
    names = {state_name for state_name, _ in _all_states(definition["States"])}
    assert names == set(vars(workflow.states).values())


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_definition_placeholders_all_replaced(name: str) -> None:
    text = render_definition(name, region="eu-west-1", account_id="210987654321")
    assert "${" not in text
    assert "arn:aws:lambda:eu-west-1:210987654321:function:" in text


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_definition_tasks_use_known_functions(name: str) -> None:
    for task in _tasks(load_definition(name)).values():
        if task["Resource"] == LAMBDA_INVOKE:
            function = task["Parameters"]["FunctionName"]
        else:
            function = task["Resource"]
        assert function.rsplit(":", 1)[-1] in LAMBDA_FUNCTIONS


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_definition_has_both_task_forms(name: str) -> None:
    tasks = _tasks(load_definition(name)).values()
    invoke_tasks = [task for task in tasks if task["Resource"] == LAMBDA_INVOKE]
    arn_tasks = [task for task in tasks if task["Resource"].startswith("arn:aws:lambda:")]
    assert len(invoke_tasks) >= 2
    assert arn_tasks
    for task in invoke_tasks:
        selectors = task["ResultSelector"].values()
        assert all(path.startswith("$.Payload.") for path in selectors)


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_definition_has_no_tolerated_failure(name: str) -> None:
    # moto's ASL parser rejects ToleratedFailurePercentage at CreateStateMachine.
    assert "ToleratedFailure" not in definition_template(name)


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_definition_group_size_and_threshold(name: str) -> None:
    definition = load_definition(name)
    assert definition["States"]["GroupChunksForMerge"]["Parameters"]["group_size"] == GROUP_SIZE
    choice = definition["States"]["CheckChunkGroupCount"]["Choices"][0]
    assert choice["NumericGreaterThan"] == HIERARCHICAL_CHUNK_THRESHOLD


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_definition_retries_are_short(name: str) -> None:
    for task in _tasks(load_definition(name)).values():
        for retrier in task["Retry"]:
            assert retrier["IntervalSeconds"] == 1
            assert retrier["BackoffRate"] == 1


def test_faulty_definition_differs_only_in_prepare_mark() -> None:
    fixed = load_definition(WORDS_FIXED)
    faulty = load_definition(WORDS_FAULTY)
    state = WORD_STATES.prepare_mark_complete
    differing = {
        name for name in fixed["States"] if fixed["States"][name] != faulty["States"][name]
    }
    assert differing == {state}


def test_faulty_prepare_mark_drops_final_merge_result() -> None:
    state = load_definition(WORDS_FAULTY)["States"][WORD_STATES.prepare_mark_complete]
    assert state["Type"] == "Pass"
    assert "final_merge_result.$" not in state["Parameters"]
    assert "ResultPath" not in state


def test_fixed_prepare_mark_passes_final_merge_result() -> None:
    for name, states in ((WORDS_FIXED, WORD_STATES), (LINES_FIXED, LINE_STATES)):
        state = load_definition(name)["States"][states.prepare_mark_complete]
        assert state["Parameters"]["final_merge_result.$"] == "$.final_merge_result"


def test_line_definition_mirrors_word_definition() -> None:
    word = definition_template(WORDS_FIXED)
    line = definition_template(LINES_FIXED)
    converted = (
        word.replace("Word", "")
        .replace('"batch_type": "word"', '"batch_type": "line"')
        .replace('"database": "words"', '"database": "lines"')
        .replace(
            "word embeddings into the ChromaDB words", "line embeddings into the ChromaDB lines"
        )
        .replace("No word batches", "No line batches")
        .replace("No polled word batch", "No polled line batch")
    )
    assert json.loads(line) == json.loads(converted)


def test_line_state_names_have_no_word() -> None:
    assert all("Word" not in name for name in vars(LINE_STATES).values())


def test_get_workflow_rejects_unknown_name() -> None:
    with pytest.raises(SandboxError):
        get_workflow("embedding-ingest-receipts")
