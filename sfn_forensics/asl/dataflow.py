"""Explanations of the state field that removes a key from the data, and checks for key reads.

JSONPath states process their input in this order: InputPath, then Parameters (ItemSelector
for a Map's items), then the task, then ResultSelector, then ResultPath, which writes the result
into the raw state input, and last OutputPath. JSONata states use Arguments for the task input,
Output for the state output and Assign for variables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sfn_forensics.asl.definition import StateDef, canonical_path

# States whose result (when ResultPath is "$") is the task, iteration or branch result.
_RESULT_STATES = ("Task", "Map", "Parallel")
# States without a result: their output is their effective input, filtered by OutputPath.
_PASSTHROUGH_STATES = ("Choice", "Wait", "Succeed")
_JSONATA_RESULT_EXAMPLE = "{% $merge([$states.input, {'<name>': $states.result}]) %}"


@dataclass(frozen=True)
class DropCause:
    """The field that removed a key from a state's output, why, and how to keep the key.

    `field` is "InputPath", "Parameters", "Result", "ResultSelector", "ResultPath",
    "OutputPath", "Output", "Catch" or "unknown".
    """

    field: str
    explanation: str
    remedy: str


def explain_key_drop(
    state: StateDef,
    key: str,
    state_output_keys: set[str] | None = None,
    *,
    caught: bool = False,
) -> DropCause:
    """Explain which field of `state` made the top-level input key `key` disappear or change.

    `state_output_keys` are the top-level keys of the output the state produced, when known.
    When `key` is among them, the key survived and the question is which field set its value
    (for example to null). When they are unknown, the explanation follows from the definition
    alone, and a Task that returns `key` itself may in fact keep it.

    Set `caught` when the state failed and one of its Catch rules handled the error. An output
    whose only keys are "Error" and "Cause" is taken as caught too. Then a Catch rule whose
    ResultPath replaces the input with the error output is blamed (field "Catch").
    """
    if state.type == "Fail":
        return DropCause(
            "unknown",
            f"{state.name} is a Fail state, which ends the execution and has no output.",
            "Nothing to change in this state.",
        )
    key_missing = state_output_keys is None or key not in state_output_keys
    if key_missing and (caught or _is_error_output(state_output_keys)):
        cause = _catch_drop(state, key)
        if cause is not None:
            return cause
    if state.is_jsonata:
        return _explain_jsonata(state, key, state_output_keys)
    return _explain_jsonpath(state, key, state_output_keys)


def state_reads_key(state: StateDef, key: str) -> bool:
    """Return whether `state` reads the top-level key `key` of its input.

    JSONPath states count a path that starts with the segment `$.<key>` (or `$['<key>']`).
    The path may be in a path field (InputPath, ItemsPath, a Choice `Variable`, Wait
    `SecondsPath`, and so on) or in a `.$` field of Parameters, ItemSelector, ItemReader or
    ItemBatcher, also inside an intrinsic function such as `States.Format(...)`. JSONata states
    count `$states.input.<key>` in any expression.

    Context object paths (`$$.`), ResultSelector (which reads the result) and paths to the
    whole input (`$`) do not count. Paths evaluated after a narrowing InputPath refer to the
    selected part, so they do not count either.
    """
    if state.is_jsonata:
        pattern = _jsonata_input_pattern(key)
        return any(pattern.search(text) for text in _jsonata_strings(state.raw))

    pattern = _jsonpath_input_pattern(key)
    return any(pattern.search(path) for path in _input_paths(state))


# --- JSONPath -------------------------------------------------------------------------------


def _explain_jsonpath(state: StateDef, key: str, state_output_keys: set[str] | None) -> DropCause:
    if state_output_keys is not None and key in state_output_keys:
        return _explain_changed_value(state, key)

    if state.type in _PASSTHROUGH_STATES:
        dropped = _input_path_drop(state, key)
        if dropped is not None:
            return dropped
        return _output_path_drop(state, key) or _unknown(state, key)

    result_path = state.result_path
    if result_path is not None and canonical_path(result_path) == "$":
        replaced = _result_replaces_input(state, key, state_output_keys)
        if replaced is not None:
            return replaced

    dropped = _output_path_drop(state, key)
    if dropped is not None:
        return dropped
    if result_path is not None and _targets_key(result_path, key):
        return _result_path_overwrites(state, key, result_path)
    return _unknown(state, key)


def _result_replaces_input(
    state: StateDef, key: str, state_output_keys: set[str] | None
) -> DropCause | None:
    """Blame the field whose value replaced the whole input because ResultPath is "$"."""
    explicit = state.declares("ResultPath")
    result_key = _result_key(state.name)
    sub_path_remedy = (
        f'Set "ResultPath": "$.{result_key}" so the result is stored under that key and the '
        f'rest of the input, including "{key}", is kept.'
    )
    how = (
        'ResultPath is "$", so the result replaces the whole input'
        if explicit
        else "default ResultPath $ replaces the input with the result"
    )

    if state.type == "Pass":
        source = _pass_result_source(state)
        if source is None:
            # A Pass state without Parameters or Result outputs its effective input.
            return _input_path_drop(state, key)
        field_name, value = source
        if _object_carries(value, key):
            return None
        blamed = "ResultPath" if explicit else field_name
        remedy = (
            f'Add "{key}.$": "$.{key}" to {field_name} to pass the key through, or set '
            f'"ResultPath": "$.{result_key}" so the {field_name} output is stored under that key '
            "and the input is kept."
        )
        if field_name == "Result":
            remedy = sub_path_remedy
        return DropCause(
            blamed,
            f'{state.name}: {field_name} does not carry "{key}", and {how}.',
            remedy,
        )

    selector = state.result_selector
    if selector is not None:
        if _object_carries(selector, key):
            return None
        blamed = "ResultPath" if explicit else "ResultSelector"
        return DropCause(
            blamed,
            f'{state.name}: ResultSelector builds the result without "{key}", and {how}.',
            sub_path_remedy,
        )

    if state.type == "Task" and state_output_keys is None:
        condition = f', unless the task returns "{key}" itself'
    else:
        condition = ""
    notes = [f"{state.name}: {how}{condition}."]
    if state.type in ("Map", "Parallel"):
        notes.append(f"The result of a {state.type} state is an array, which has no keys.")
    parameters = state.parameters
    if (
        state.type == "Task"
        and isinstance(parameters, dict)
        and not _object_carries(parameters, key)
    ):
        notes.append(f'Parameters does not pass "{key}" to the task either.')
    return DropCause("ResultPath", " ".join(notes), sub_path_remedy)


def _explain_changed_value(state: StateDef, key: str) -> DropCause:
    """Explain a key that is still in the output, so a field must have set its value."""
    result_path = state.result_path
    result_key = _result_key(state.name)
    if result_path is not None and _targets_key(result_path, key):
        return _result_path_overwrites(state, key, result_path)
    if result_path is not None and _targets_inside_key(result_path, key):
        return DropCause(
            "ResultPath",
            f'{state.name}: "ResultPath": "{result_path}" writes the result inside "{key}", '
            "so its value changes.",
            f'Write the result outside "{key}", for example "ResultPath": "$.{result_key}".',
        )

    replaces = result_path is not None and canonical_path(result_path) == "$"
    if not replaces or state.type in _PASSTHROUGH_STATES:
        return _unknown(state, key)

    if state.type == "Pass":
        source = _pass_result_source(state)
        if source is None or not _object_carries(source[1], key):
            return _unknown(state, key)
        field_name, value = source
        blamed = "ResultPath" if state.declares("ResultPath") else field_name
        expression = _carried_value(value, key)
        narrowed = ""
        if state.declares("InputPath") and state.input_path != "$":
            narrowed = (
                f" Its paths read the part of the input that "
                f'"InputPath": {_json_text(state.raw["InputPath"])} selects.'
            )
        return DropCause(
            blamed,
            f'{state.name}: {field_name} sets "{key}" from {_json_text(expression)}, and the '
            f"result replaces the input.{narrowed}",
            f"Check that {_json_text(expression)} selects the value you expect, or pass the input "
            f'value through with "{key}.$": "$.{key}".',
        )

    selector = state.result_selector
    if selector is not None and _object_carries(selector, key):
        expression = _carried_value(selector, key)
        return DropCause(
            "ResultSelector",
            f'{state.name}: ResultSelector sets "{key}" from {_json_text(expression)} in the task '
            "result, and the result replaces the input.",
            f'Set "ResultPath": "$.{result_key}" to keep the input value of "{key}", or fix the '
            "ResultSelector path.",
        )
    return DropCause(
        "ResultPath",
        f"{state.name}: default ResultPath $ replaces the input with the result, and the "
        f'result has its own "{key}".',
        f'Set "ResultPath": "$.{result_key}" so the result is stored under that key and the '
        f'input value of "{key}" is kept.',
    )


def _result_path_overwrites(state: StateDef, key: str, result_path: str) -> DropCause:
    return DropCause(
        "ResultPath",
        f'{state.name}: "ResultPath": "{result_path}" writes the result to "{key}", replacing '
        "the input value (with null when the result is null).",
        f'Write the result to another key, for example "ResultPath": '
        f'"$.{_result_key(state.name)}", so "{key}" is not overwritten.',
    )


def _input_path_drop(state: StateDef, key: str) -> DropCause | None:
    input_path = state.input_path
    if input_path is not None and canonical_path(input_path) == "$":
        return None
    if input_path is None:
        detail = '"InputPath": null makes the effective input an empty object'
        remedy = f'Remove "InputPath": null so the input, including "{key}", reaches the output.'
    else:
        detail = f'"InputPath": "{input_path}" passes on only that part of the input'
        remedy = (
            f'Remove InputPath or widen it to "$" so "{key}" reaches the output.'
            if state.type in _PASSTHROUGH_STATES
            else f'Remove InputPath, or set "ResultPath": "$.{_result_key(state.name)}" so the '
            "selected part is stored under that key and the full input is kept."
        )
    return DropCause("InputPath", f'{state.name}: {detail}, without "{key}".', remedy)


def _output_path_drop(state: StateDef, key: str) -> DropCause | None:
    output_path = state.output_path
    if output_path is not None and canonical_path(output_path) == "$":
        return None
    if output_path is None:
        return DropCause(
            "OutputPath",
            f'{state.name}: "OutputPath": null makes the output an empty object, without "{key}".',
            f'Remove "OutputPath": null so the output keeps "{key}".',
        )
    return DropCause(
        "OutputPath",
        f'{state.name}: "OutputPath": "{output_path}" passes on only that part of the output, '
        f'so the top-level "{key}" is left out.',
        f'Remove OutputPath (the default "$" keeps the whole output) or widen it to a path '
        f'that contains "{key}".',
    )


def _unknown(state: StateDef, key: str) -> DropCause:
    return DropCause(
        "unknown",
        f'Nothing in the definition of {state.name} removes or sets "{key}".',
        f"Check the state before {state.name}, or the task code if {state.name} calls one.",
    )


def _pass_result_source(state: StateDef) -> tuple[str, Any] | None:
    if state.declares("Parameters"):
        return "Parameters", state.parameters
    if state.declares("Result"):
        return "Result", state.raw.get("Result")
    return None


def _is_error_output(state_output_keys: set[str] | None) -> bool:
    return (
        state_output_keys is not None
        and "Error" in state_output_keys
        and state_output_keys <= {"Error", "Cause"}
    )


def _catch_drop(state: StateDef, key: str) -> DropCause | None:
    """Blame the Catch rules that put the error output in place of the input."""
    replacing: list[str] = []
    for catcher in state.catch:
        errors = catcher.get("ErrorEquals")
        label = ", ".join(errors) if isinstance(errors, list) else "?"
        if state.is_jsonata:
            output = catcher.get("Output")
            replaces = "Output" not in catcher or not _jsonata_output_keeps_input(output, key)
        else:
            result_path = catcher.get("ResultPath", "$")
            replaces = isinstance(result_path, str) and canonical_path(result_path) == "$"
        if replaces:
            replacing.append(label)
    if not replacing:
        return None

    if state.is_jsonata:
        how = "the Output (the error output $states.errorOutput by default) replaces the input"
        remedy = (
            'Set "Output": "{% $merge([$states.input, {\'error\': $states.errorOutput}]) %}" '
            f'on that Catch rule so the input, including "{key}", is kept.'
        )
    else:
        how = 'the ResultPath ("$" by default) replaces the input with the error output'
        remedy = (
            'Set "ResultPath": "$.error" on that Catch rule so the error output is stored '
            f'under "error" and the input, including "{key}", is kept.'
        )
    rules = "; ".join(f"[{label}]" for label in replacing)
    return DropCause(
        "Catch",
        f"{state.name} failed and a Catch rule handled the error. In the Catch rules for "
        f"{rules}, {how}.",
        remedy,
    )


def _jsonata_output_keeps_input(output: Any, key: str) -> bool:
    if isinstance(output, dict):
        return key in output
    return isinstance(output, str) and _WHOLE_INPUT.search(output) is not None


# --- JSONata --------------------------------------------------------------------------------


def _explain_jsonata(state: StateDef, key: str, state_output_keys: set[str] | None) -> DropCause:
    present = state_output_keys is not None and key in state_output_keys
    missing = state_output_keys is not None and key not in state_output_keys
    result_name = _result_key(state.name)
    merge_remedy = (
        f'Set "Output": "{_JSONATA_RESULT_EXAMPLE.replace("<name>", result_name)}" so the '
        f'output keeps the input, including "{key}".'
    )
    assigned = _assign_note(state, key)

    if not state.declares("Output"):
        if state.type in _RESULT_STATES and not present:
            return DropCause(
                "Output",
                f"{state.name}: a JSONata {state.type} state without Output outputs its result "
                f"($states.result), which replaces the input.{assigned}",
                merge_remedy,
            )
        return _unknown(state, key)

    output = state.output
    if isinstance(output, dict):
        if key in output:
            if present:
                return DropCause(
                    "Output",
                    f'{state.name}: Output sets "{key}" to {_json_text(output[key])}.',
                    f'Check the expression for "{key}" in Output. '
                    f'"{{% $states.input.{key} %}}" keeps the input value.',
                )
            return _unknown(state, key)
        return DropCause(
            "Output",
            f'{state.name}: Output builds an object without "{key}".{assigned}',
            f'Add "{key}": "{{% $states.input.{key} %}}" to Output.',
        )

    if isinstance(output, str) and "{%" in output:
        keeps_input = _WHOLE_INPUT.search(output) is not None
        if not keeps_input:
            return DropCause(
                "Output",
                f"{state.name}: Output is the expression {_json_text(output)}, which does not "
                f'include the whole state input, so "{key}" is left out.{assigned}',
                merge_remedy,
            )
        if missing:
            return DropCause(
                "Output",
                f"{state.name}: Output is the expression {_json_text(output)}, and the output it "
                f'produced has no "{key}".{assigned}',
                merge_remedy,
            )
        return _unknown(state, key)

    return DropCause(
        "Output",
        f"{state.name}: Output is the literal {_json_text(output)}, which replaces the input."
        f"{assigned}",
        merge_remedy,
    )


# `$states.input` used as a whole value, not followed by a field or index.
_WHOLE_INPUT = re.compile(r"\$states\.input(?![\w.\[])")


def _assign_note(state: StateDef, key: str) -> str:
    assign = state.assign
    if assign is not None and key in assign:
        return f' Assign stores "{key}" in the variable ${key}, which later states can read.'
    return ""


# --- Reading keys ---------------------------------------------------------------------------


def _jsonpath_input_pattern(key: str) -> re.Pattern[str]:
    escaped = re.escape(key)
    return re.compile(
        rf"(?<![\w$@])\$\.{escaped}(?=$|[.\[\s,)])"
        rf"|(?<![\w$@])\$\[\s*(['\"]){escaped}\1\s*\]"
    )


def _jsonata_input_pattern(key: str) -> re.Pattern[str]:
    escaped = re.escape(key)
    return re.compile(
        rf"\$states\.input(?:\.{escaped}(?![\w$])|\.`{escaped}`|\[\s*(['\"]){escaped}\1\s*\])"
    )


# Fields that contain other states, literal data, or expressions over the result or the error.
_JSONPATH_SKIPPED = frozenset(
    {
        "ItemProcessor",
        "Iterator",
        "Branches",
        "Result",
        "ResultSelector",
        "ResultPath",
        "Catch",
        "Retry",
        "Comment",
        "InputPath",
        "OutputPath",
        "Assign",
        "Choices",
    }
)
# State-level objects whose `.$` fields and `...Path` fields read the effective input.
_PAYLOAD_FIELDS = frozenset(
    {"Parameters", "ItemSelector", "ItemReader", "ItemBatcher", "ResultWriter", "Credentials"}
)


def _input_paths(state: StateDef) -> Iterator[str]:
    """Yield the JSONPath paths and intrinsic functions of `state` that read its raw input."""
    input_path = state.raw.get("InputPath")
    if isinstance(input_path, str):
        yield input_path
    reads_raw_input = state.input_path is not None and canonical_path(state.input_path) == "$"

    if reads_raw_input:
        for name, value in state.raw.items():
            if name in _JSONPATH_SKIPPED:
                continue
            if name in _PAYLOAD_FIELDS:
                yield from _payload_paths(value)
            elif name.endswith("Path") and isinstance(value, str):
                yield value
        for rule in state.choices:
            yield from _choice_rule_paths(rule)
        # In JSONPath, `$` in Assign is the state's result when the state has one.
        if not _has_result(state):
            yield from _payload_paths(state.assign)

    output_path = state.raw.get("OutputPath")
    if isinstance(output_path, str) and _output_path_reads_raw_input(state, reads_raw_input):
        yield output_path


def _payload_paths(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            is_path_field = name.endswith(".$") or name.endswith("Path")
            if is_path_field and isinstance(item, str):
                yield item
            else:
                yield from _payload_paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from _payload_paths(item)


def _choice_rule_paths(rule: dict[str, Any]) -> Iterator[str]:
    for name, value in rule.items():
        if name in ("Variable",) or name.endswith("Path"):
            if isinstance(value, str):
                yield value
        elif name in ("And", "Or") and isinstance(value, list):
            for child in value:
                if isinstance(child, dict):
                    yield from _choice_rule_paths(child)
        elif name == "Not" and isinstance(value, dict):
            yield from _choice_rule_paths(value)
        elif name == "Assign":
            yield from _payload_paths(value)


def _has_result(state: StateDef) -> bool:
    if state.type in _RESULT_STATES:
        return True
    return state.type == "Pass" and _pass_result_source(state) is not None


def _output_path_reads_raw_input(state: StateDef, reads_raw_input: bool) -> bool:
    """Return whether OutputPath applies to a document that still has the raw input's keys."""
    if state.type in _PASSTHROUGH_STATES:
        return reads_raw_input
    result_path = state.result_path
    if result_path is None or canonical_path(result_path) != "$":
        return True
    return not _has_result(state) and reads_raw_input


def _jsonata_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if "{%" in value:
            yield value
    elif isinstance(value, dict):
        for name, item in value.items():
            if name in ("ItemProcessor", "Iterator", "Branches", "Comment"):
                continue
            yield from _jsonata_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _jsonata_strings(item)


# --- Shared helpers -------------------------------------------------------------------------


def _object_carries(value: Any, key: str) -> bool:
    """Return whether a Parameters-like object sets the top-level key `key`."""
    return isinstance(value, dict) and (key in value or f"{key}.$" in value)


def _carried_value(value: Any, key: str) -> Any:
    if not isinstance(value, dict):
        return None
    if f"{key}.$" in value:
        return value[f"{key}.$"]
    return value.get(key)


def _targets_key(result_path: str, key: str) -> bool:
    return canonical_path(result_path) == f"$.{key}"


def _targets_inside_key(result_path: str, key: str) -> bool:
    return canonical_path(result_path).startswith((f"$.{key}.", f"$.{key}["))


def _result_key(state_name: str) -> str:
    """Turn a state name such as "SummarizeChunks" into a key such as "summarize_chunks_result"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", state_name)
    snake = re.sub(r"[^0-9A-Za-z]+", "_", words).strip("_").lower()
    return f"{snake or 'state'}_result"


def _json_text(value: Any) -> str:
    """Render a value from a definition as compact JSON for an explanation."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
