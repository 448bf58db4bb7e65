"""Amazon States Language definitions, flattened into one table of states.

`parse_definition` reads a definition and indexes every state by name, including the states
inside Map (`ItemProcessor`, or the legacy `Iterator`) and Parallel (`Branches`) states.
`choice_threshold` and `value_at` read settings out of one state.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

JSONPATH = "JSONPath"
JSONATA = "JSONata"
QUERY_LANGUAGES = (JSONPATH, JSONATA)

NUMERIC_OPERATORS = (
    "NumericEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
)


@dataclass(frozen=True, eq=False)
class StateDef:
    """One state of a definition, with typed access to the fields of its raw JSON object.

    Accessors return None for an absent field unless their docstring names a default.
    """

    name: str
    type: str
    raw: dict[str, Any]
    # Names of the enclosing Map and Parallel states, outermost first. Empty at the top level.
    scope: tuple[str, ...]
    # The state's own QueryLanguage, else the definition's top-level one.
    # NOTE: nested states fall back to the top level, not to the enclosing Map or Parallel
    # state, as the AWS CDK documents it. This is unconfirmed for states inside a Map.
    query_language: str

    @property
    def is_jsonata(self) -> bool:
        return self.query_language == JSONATA

    def declares(self, field_name: str) -> bool:
        """Return whether the state sets `field_name`, even to null."""
        return field_name in self.raw

    @property
    def parameters(self) -> Any:
        """The `Parameters` value, usually an object.

        A Map state uses it as its legacy item selector, so it shapes each item, not the result.
        """
        return self.raw.get("Parameters")

    @property
    def result_selector(self) -> dict[str, Any] | None:
        value = self.raw.get("ResultSelector")
        return value if isinstance(value, dict) else None

    @property
    def result_path(self) -> str | None:
        """The effective ResultPath: "$" when absent, None when set to null.

        `declares("ResultPath")` distinguishes an explicit "$" from the default.
        """
        return self._path_field("ResultPath")

    @property
    def output_path(self) -> str | None:
        """The effective OutputPath: "$" when absent, None when set to null."""
        return self._path_field("OutputPath")

    @property
    def input_path(self) -> str | None:
        """The effective InputPath: "$" when absent, None when set to null."""
        return self._path_field("InputPath")

    @property
    def items_path(self) -> str | None:
        """The Map state's ItemsPath, "$" when absent. None for other states and JSONata Maps."""
        value = self.raw.get("ItemsPath")
        if isinstance(value, str):
            return value
        if self.type == "Map" and not self.is_jsonata:
            return "$"
        return None

    @property
    def item_selector(self) -> dict[str, Any] | None:
        """The Map state's `ItemSelector`, or its legacy `Parameters` when that is absent."""
        value = self.raw.get("ItemSelector")
        if value is None and self.type == "Map":
            value = self.raw.get("Parameters")
        return value if isinstance(value, dict) else None

    @property
    def items(self) -> Any:
        """The JSONata `Items` of a Map state: an array or an expression string."""
        return self.raw.get("Items")

    @property
    def arguments(self) -> Any:
        """The JSONata `Arguments`: an object or an expression string."""
        return self.raw.get("Arguments")

    @property
    def output(self) -> Any:
        """The JSONata `Output`.

        `declares("Output")` distinguishes an explicit null from an absent Output.
        """
        return self.raw.get("Output")

    @property
    def assign(self) -> dict[str, Any] | None:
        value = self.raw.get("Assign")
        return value if isinstance(value, dict) else None

    @property
    def next(self) -> str | None:
        value = self.raw.get("Next")
        return value if isinstance(value, str) else None

    @property
    def end(self) -> bool:
        return self.raw.get("End") is True

    @property
    def choices(self) -> list[dict[str, Any]]:
        """The Choice rules in order, or an empty list for other states."""
        value = self.raw.get("Choices")
        if not isinstance(value, list):
            return []
        return [rule for rule in value if isinstance(rule, dict)]

    @property
    def default(self) -> str | None:
        value = self.raw.get("Default")
        return value if isinstance(value, str) else None

    @property
    def retry(self) -> list[dict[str, Any]]:
        return _object_list(self.raw.get("Retry"))

    @property
    def catch(self) -> list[dict[str, Any]]:
        return _object_list(self.raw.get("Catch"))

    @property
    def resource(self) -> str | None:
        value = self.raw.get("Resource")
        return value if isinstance(value, str) else None

    @property
    def max_concurrency(self) -> int | None:
        """The literal `MaxConcurrency`, or None when it is absent or a JSONata expression."""
        value = self.raw.get("MaxConcurrency")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return None

    def _path_field(self, field_name: str) -> str | None:
        if field_name not in self.raw:
            return "$"
        value = self.raw[field_name]
        return value if isinstance(value, str) else None


@dataclass(frozen=True, eq=False)
class Definition:
    """A parsed state machine definition.

    `states` contains the states of every scope, in document order with each Map or Parallel
    state before its children.
    """

    query_language: str
    start_at: str
    states: dict[str, StateDef]
    raw: dict[str, Any]
    # Names that occur in more than one place. Only the first occurrence is in `states`.
    duplicate_names: tuple[str, ...] = field(default=())

    def top_level_names(self) -> list[str]:
        return self.names_in_scope(())

    def names_in_scope(self, scope: tuple[str, ...]) -> list[str]:
        """Return the names of the states whose enclosing Map/Parallel states are `scope`."""
        return [name for name, state in self.states.items() if state.scope == scope]

    def get(self, name: str) -> StateDef | None:
        return self.states.get(name)


@dataclass(frozen=True)
class ChoiceThreshold:
    """A numeric comparison found in a Choice rule.

    `operator` is the ASL comparator name (for example "NumericGreaterThan"), also for a JSONata
    condition. `value` is None when the rule compares with a path (`...Path`), which is then in
    `value_path`. `negated` is True when the comparison sits inside a `Not` (or is a JSONata `!=`),
    so the rule matches when the comparison is false.
    """

    operator: str
    value: int | float | None
    value_path: str | None
    next_state: str | None
    rule_index: int
    negated: bool = False


def parse_definition(source: str | bytes | dict[str, Any]) -> Definition:
    """Parse a definition from JSON text or an already decoded object.

    Raises ValueError when the text is not JSON or the structure is not a state machine
    (no `StartAt`, no `States` object, a state without `Type`, and so on).
    """
    raw = _decode(source)

    query_language = raw.get("QueryLanguage", JSONPATH)
    if query_language not in QUERY_LANGUAGES:
        raise ValueError(
            f"invalid state machine definition: QueryLanguage {query_language!r} is neither "
            f"{JSONPATH!r} nor {JSONATA!r}"
        )

    start_at = raw.get("StartAt")
    if not isinstance(start_at, str):
        raise ValueError("invalid state machine definition: StartAt is missing or not a string")

    states: dict[str, StateDef] = {}
    duplicates: list[str] = []
    for state in _walk_states(raw, (), query_language, "the definition"):
        if state.name in states:
            # The ASL specification requires state names to be unique in the whole state
            # machine. A definition that breaks the rule is still parsed so the rest can be read.
            logger.warning(
                "State name %r occurs more than once (in scope %r and scope %r), "
                "so only the first occurrence is used",
                state.name,
                states[state.name].scope,
                state.scope,
            )
            duplicates.append(state.name)
            continue
        states[state.name] = state

    return Definition(
        query_language=query_language,
        start_at=start_at,
        states=states,
        raw=raw,
        duplicate_names=tuple(duplicates),
    )


def choice_threshold(defn: Definition, state_name: str, variable: str) -> ChoiceThreshold | None:
    """Find the first numeric comparison of `variable` in the rules of a Choice state.

    `variable` is a JSONPath path such as "$.total_chunks". The search covers `Variable` rules,
    also nested in `And`, `Or` and `Not`, and JSONata `Condition` strings of the simple form
    `{% <path> <op> <number> %}` where the path is `$states.input.<...>` (matching "$.<...>")
    or the same text as `variable`. Returns None when the state is missing, is no Choice
    state, or has no such comparison.
    """
    state = defn.get(state_name)
    if state is None or state.type != "Choice":
        return None

    expected_variable = _canonical_variable(variable)
    for index, rule in enumerate(state.choices):
        next_state = rule.get("Next") if isinstance(rule.get("Next"), str) else None
        condition = rule.get("Condition")
        if isinstance(condition, str):
            found = _jsonata_threshold(condition, expected_variable, next_state, index)
        else:
            found = _jsonpath_threshold(rule, expected_variable, next_state, index, negated=False)
        if found is not None:
            return found
    return None


def value_at(defn: Definition, state_name: str, jmespath_expression: str) -> Any:
    """Evaluate a JMESPath expression against the raw JSON object of a state.

    Example: `Parameters.group_size`. Field names that contain a dot need quotes, as in
    `Parameters."group_size.$"`. Returns None when the state or the value is missing.
    Raises ValueError when the expression is not valid JMESPath.
    """
    state = defn.get(state_name)
    if state is None:
        return None

    import jmespath
    import jmespath.exceptions

    try:
        return jmespath.search(jmespath_expression, state.raw)
    except jmespath.exceptions.JMESPathError as error:
        raise ValueError(f"invalid JMESPath expression {jmespath_expression!r}: {error}") from error


def canonical_path(path: str) -> str:
    """Rewrite quoted bracket segments as dot segments: `$['a']["b"]` becomes `$.a.b`."""
    return _BRACKET_SEGMENT.sub(_dot_segment, path)


_BRACKET_SEGMENT = re.compile(r"""\[\s*(?:'([^']*)'|"([^"]*)")\s*\]""")


def _dot_segment(match: re.Match[str]) -> str:
    single_quoted = match.group(1)
    return "." + (single_quoted if single_quoted is not None else match.group(2))


def _decode(source: str | bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, dict):
        return source

    text = source.decode("utf-8") if isinstance(source, bytes) else source
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid state machine definition: not valid JSON ({error})") from error
    if not isinstance(decoded, dict):
        raise ValueError(
            "invalid state machine definition: expected a JSON object, "
            f"got {type(decoded).__name__}"
        )
    return decoded


def _walk_states(
    machine: dict[str, Any], scope: tuple[str, ...], top_language: str, where: str
) -> Iterator[StateDef]:
    """Yield the states of one (sub-)state machine, each followed by the states nested in it."""
    states = machine.get("States")
    if not isinstance(states, dict):
        raise ValueError(f"invalid state machine definition: States is missing in {where}")

    for name, raw in states.items():
        if not isinstance(raw, dict):
            raise ValueError(f"invalid state machine definition: state {name!r} is not an object")
        state_type = raw.get("Type")
        if not isinstance(state_type, str):
            raise ValueError(f"invalid state machine definition: state {name!r} has no Type")
        language = raw.get("QueryLanguage", top_language)
        if language not in QUERY_LANGUAGES:
            raise ValueError(
                f"invalid state machine definition: state {name!r} has QueryLanguage {language!r}"
            )

        yield StateDef(name=name, type=state_type, raw=raw, scope=scope, query_language=language)

        inner_scope = (*scope, name)
        if state_type == "Map":
            processor = raw.get("ItemProcessor", raw.get("Iterator"))
            if not isinstance(processor, dict):
                raise ValueError(
                    f"invalid state machine definition: Map state {name!r} has no ItemProcessor"
                )
            yield from _walk_states(processor, inner_scope, top_language, f"Map state {name!r}")
        elif state_type == "Parallel":
            branches = raw.get("Branches")
            if not isinstance(branches, list):
                raise ValueError(
                    f"invalid state machine definition: Parallel state {name!r} has no Branches"
                )
            for position, branch in enumerate(branches):
                if not isinstance(branch, dict):
                    raise ValueError(
                        f"invalid state machine definition: branch {position} of Parallel state "
                        f"{name!r} is not an object"
                    )
                where_branch = f"branch {position} of Parallel state {name!r}"
                yield from _walk_states(branch, inner_scope, top_language, where_branch)


def _object_list(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _canonical_variable(variable: str) -> str:
    """Map a JSONPath path or a `$states.input` reference onto one comparable form."""
    text = canonical_path(variable.strip())
    if text == "$states.input":
        return "$"
    if text.startswith("$states.input."):
        return "$." + text[len("$states.input.") :]
    return text


def _jsonpath_threshold(
    rule: dict[str, Any], expected_variable: str, next_state: str | None, index: int, negated: bool
) -> ChoiceThreshold | None:
    variable = rule.get("Variable")
    if isinstance(variable, str) and _canonical_variable(variable) == expected_variable:
        for operator in NUMERIC_OPERATORS:
            if operator in rule:
                value = rule[operator]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                return ChoiceThreshold(operator, value, None, next_state, index, negated)
            path_operator = operator + "Path"
            if isinstance(rule.get(path_operator), str):
                return ChoiceThreshold(
                    operator, None, rule[path_operator], next_state, index, negated
                )

    for combinator in ("And", "Or"):
        children = rule.get(combinator)
        if isinstance(children, list):
            for child in children:
                if isinstance(child, dict):
                    found = _jsonpath_threshold(
                        child, expected_variable, next_state, index, negated
                    )
                    if found is not None:
                        return found

    child = rule.get("Not")
    if isinstance(child, dict):
        return _jsonpath_threshold(child, expected_variable, next_state, index, not negated)
    return None


_JSONATA_OPERATORS = {
    ">": ("NumericGreaterThan", False),
    ">=": ("NumericGreaterThanEquals", False),
    "<": ("NumericLessThan", False),
    "<=": ("NumericLessThanEquals", False),
    "=": ("NumericEquals", False),
    "!=": ("NumericEquals", True),
}
# The operator seen from the other side, for conditions written `<number> <op> <path>`.
_MIRRORED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "!=": "!="}

_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_JSONATA_PATH = r"\$[\w$.]*"
_JSONATA_OPERATOR = r"!=|>=|<=|=|>|<"
_PATH_FIRST = re.compile(
    rf"^\{{%\s*(?P<path>{_JSONATA_PATH})\s*(?P<op>{_JSONATA_OPERATOR})\s*(?P<num>{_NUMBER})\s*%\}}$"
)
_NUMBER_FIRST = re.compile(
    rf"^\{{%\s*(?P<num>{_NUMBER})\s*(?P<op>{_JSONATA_OPERATOR})\s*(?P<path>{_JSONATA_PATH})\s*%\}}$"
)


def _jsonata_threshold(
    condition: str, expected_variable: str, next_state: str | None, index: int
) -> ChoiceThreshold | None:
    text = condition.strip()
    match = _PATH_FIRST.match(text)
    operator_text: str | None = None
    if match is not None:
        operator_text = match.group("op")
    else:
        match = _NUMBER_FIRST.match(text)
        if match is not None:
            operator_text = _MIRRORED[match.group("op")]
    if match is None or operator_text is None:
        return None
    if _canonical_variable(match.group("path")) != expected_variable:
        return None

    operator, negated = _JSONATA_OPERATORS[operator_text]
    number_text = match.group("num")
    value: int | float
    if any(marker in number_text for marker in ".eE"):
        value = float(number_text)
    else:
        value = int(number_text)
    return ChoiceThreshold(operator, value, None, next_state, index, negated)
