"""Load and validate profile files (TOML) into plain dataclasses."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from sfn_forensics.errors import InvalidInputError

MAP_MEASURES = ("started", "succeeded", "failed", "aborted", "items")


@dataclass(frozen=True)
class OutputField:
    """A value read from a state's output (JMESPath, tried in order) or from its Map counts."""

    name: str
    state: str
    expressions: tuple[str, ...] = ()
    map_measure: str | None = None
    # The count only applies on this path; elsewhere it is not applicable (null).
    path: str | None = None


@dataclass(frozen=True)
class PathRule:
    name: str
    visited: tuple[str, ...] = ()
    count_equals: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DefinitionValue:
    """An expected value read from the definition that ran."""

    name: str
    state: str
    choice_variable: str | None = None
    expression: str | None = None


STAGE_SOURCES = ("poll_results", "logs", "value", "snapshot_metadata", "snapshot_verified")


@dataclass(frozen=True)
class Stage:
    """One pipeline stage whose embedding count the report shows.

    `logs` stages sum `field` (JMESPath over a structured log line's fields) over the
    invocations of the Lambdas that `state` calls. `value` stages read a profile value, and fall
    back to that log field when `state` and `field` are given.
    """

    name: str
    source: str
    state: str | None = None
    field: str | None = None
    value: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Artifacts:
    """Locations of a workflow's S3 evidence, used when the history does not name them."""

    poll_results_key_template: str | None = None
    bucket_fields: tuple[str, ...] = ()
    snapshot_pointer_key: str | None = None
    snapshot_prefix_template: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    recognise: tuple[str, ...]
    expected_outputs: tuple[str, ...]
    roles: dict[str, str]
    paths: tuple[PathRule, ...]
    counts: tuple[OutputField, ...]
    values: tuple[OutputField, ...]
    definition_values: tuple[DefinitionValue, ...]
    snapshot_database: str | None = None
    artifacts: Artifacts = field(default_factory=Artifacts)
    stages: tuple[Stage, ...] = ()
    # Log group per Lambda function name, where it is not /aws/lambda/<name>.
    log_groups: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def role(self, role: str) -> str | None:
        return self.roles.get(role)


_TOP_LEVEL_KEYS = {
    "name",
    "description",
    "recognise",
    "expected_outputs",
    "roles",
    "paths",
    "counts",
    "values",
    "definition",
    "snapshot_database",
    "artifacts",
    "stages",
    "log_groups",
}
_ARTIFACT_KEYS = {
    "poll_results_key_template",
    "bucket_fields",
    "snapshot_pointer_key",
    "snapshot_prefix_template",
}


def parse_profile(data: dict[str, Any], origin: str) -> Profile:
    """Validate a profile mapping; raise InvalidInputError naming the file and the bad key."""
    unknown = set(data) - _TOP_LEVEL_KEYS
    if unknown:
        raise InvalidInputError(f"profile {origin}: unknown keys {sorted(unknown)}")
    try:
        return Profile(
            name=_require_str(data, "name", origin),
            description=str(data.get("description", "")),
            recognise=tuple(_str_list(data.get("recognise", []), "recognise", origin)),
            expected_outputs=tuple(
                _str_list(data.get("expected_outputs", []), "expected_outputs", origin)
            ),
            roles={str(k): str(v) for k, v in dict(data.get("roles", {})).items()},
            paths=tuple(_parse_path(rule, origin) for rule in data.get("paths", [])),
            counts=tuple(
                _parse_field(name, spec, origin) for name, spec in data.get("counts", {}).items()
            ),
            values=tuple(
                _parse_field(name, spec, origin) for name, spec in data.get("values", {}).items()
            ),
            definition_values=tuple(
                _parse_definition_value(name, spec, origin)
                for name, spec in data.get("definition", {}).items()
            ),
            snapshot_database=data.get("snapshot_database"),
            artifacts=_parse_artifacts(data.get("artifacts", {}), origin),
            stages=tuple(_parse_stage(stage, origin) for stage in data.get("stages", [])),
            log_groups={str(k): str(v) for k, v in dict(data.get("log_groups", {})).items()},
            raw=data,
        )
    except (TypeError, AttributeError) as error:
        raise InvalidInputError(f"profile {origin}: invalid structure ({error})") from error


def _require_str(data: dict[str, Any], key: str, origin: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"profile {origin}: `{key}` must be a non-empty string")
    return value


def _str_list(value: Any, key: str, origin: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInputError(f"profile {origin}: `{key}` must be a list of strings")
    return list(value)


def _parse_path(rule: dict[str, Any], origin: str) -> PathRule:
    name = _require_str(rule, "name", origin)
    counts = rule.get("count_equals", {})
    if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
        raise InvalidInputError(f"profile {origin}: path {name}: `count_equals` must map to ints")
    return PathRule(
        name=name,
        visited=tuple(_str_list(rule.get("visited", []), "visited", origin)),
        count_equals=dict(counts),
    )


def _parse_field(name: str, spec: dict[str, Any], origin: str) -> OutputField:
    state = _require_str(spec, "state", origin)
    expressions = tuple(_str_list(spec.get("output", []), f"{name}.output", origin))
    measure = spec.get("map")
    if measure is not None and measure not in MAP_MEASURES:
        raise InvalidInputError(
            f"profile {origin}: {name}.map must be one of {', '.join(MAP_MEASURES)}"
        )
    if not expressions and measure is None:
        raise InvalidInputError(f"profile {origin}: {name} needs `output` or `map`")
    _compile_all(expressions, f"{origin}: {name}")
    return OutputField(
        name=name,
        state=state,
        expressions=expressions,
        map_measure=measure,
        path=spec.get("path"),
    )


def _parse_definition_value(name: str, spec: dict[str, Any], origin: str) -> DefinitionValue:
    state = _require_str(spec, "state", origin)
    variable = spec.get("choice_variable")
    expression = spec.get("expression")
    if (variable is None) == (expression is None):
        raise InvalidInputError(
            f"profile {origin}: definition.{name} needs exactly one of "
            "`choice_variable` or `expression`"
        )
    if expression is not None:
        _compile_all((expression,), f"{origin}: definition.{name}")
    return DefinitionValue(name=name, state=state, choice_variable=variable, expression=expression)


def _parse_artifacts(spec: dict[str, Any], origin: str) -> Artifacts:
    unknown = set(spec) - _ARTIFACT_KEYS
    if unknown:
        raise InvalidInputError(f"profile {origin}: unknown artifacts keys {sorted(unknown)}")
    return Artifacts(
        poll_results_key_template=spec.get("poll_results_key_template"),
        bucket_fields=tuple(_str_list(spec.get("bucket_fields", []), "bucket_fields", origin)),
        snapshot_pointer_key=spec.get("snapshot_pointer_key"),
        snapshot_prefix_template=spec.get("snapshot_prefix_template"),
    )


def _parse_stage(spec: dict[str, Any], origin: str) -> Stage:
    name = _require_str(spec, "name", origin)
    source = spec.get("source")
    if source not in STAGE_SOURCES:
        raise InvalidInputError(
            f"profile {origin}: stage {name}: `source` must be one of {', '.join(STAGE_SOURCES)}"
        )
    stage = Stage(
        name=name,
        source=source,
        state=spec.get("state"),
        field=spec.get("field"),
        value=spec.get("value"),
        path=spec.get("path"),
    )
    if source == "logs" and (stage.state is None or stage.field is None):
        raise InvalidInputError(f"profile {origin}: stage {name} needs `state` and `field`")
    if source == "value" and stage.value is None:
        raise InvalidInputError(f"profile {origin}: stage {name} needs `value`")
    if stage.field is not None:
        _compile_all((stage.field,), f"{origin}: stage {name}")
    return stage


def _compile_all(expressions: tuple[str, ...], where: str) -> None:
    import jmespath
    from jmespath.exceptions import JMESPathError

    for expression in expressions:
        try:
            jmespath.compile(expression)
        except JMESPathError as error:
            raise InvalidInputError(
                f"profile {where}: invalid JMESPath {expression!r}: {error}"
            ) from error


def builtin_profiles() -> list[Profile]:
    """Load every profile shipped in this package, sorted by name."""
    profiles = []
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            profiles.append(parse_profile(data, entry.name))
    return sorted(profiles, key=lambda profile: profile.name)
