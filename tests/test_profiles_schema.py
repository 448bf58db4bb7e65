"""Profile files are validated on load, and the shipped ones describe both ingest variants."""

from __future__ import annotations

from typing import Any

import pytest

from sfn_forensics.errors import InvalidInputError
from sfn_forensics.profiles.schema import builtin_profiles, parse_profile


def minimal_profile(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "test",
        "recognise": ["A"],
        "counts": {"items": {"state": "A", "output": ["items"]}},
    }
    data.update(overrides)
    return data


def test_builtin_profiles_load() -> None:
    names = [profile.name for profile in builtin_profiles()]
    assert names == ["embedding-ingest-lines", "embedding-ingest-words"]


def test_line_variant_drops_word() -> None:
    lines = next(p for p in builtin_profiles() if p.name == "embedding-ingest-lines")
    assert lines.role("poll_map") == "PollBatches"
    assert lines.role("final_merge") == "FinalMerge"
    assert lines.role("prepare_mark") == "PrepareMarkBatchesComplete"
    assert not any("Word" in name for name in lines.recognise)


def test_expected_outputs_declared() -> None:
    for profile in builtin_profiles():
        assert profile.expected_outputs == ("final_merge_result",)


def test_thresholds_come_from_definition() -> None:
    for profile in builtin_profiles():
        names = {value.name for value in profile.definition_values}
        assert names == {"hierarchical_threshold", "group_size"}


def test_unknown_top_level_key_rejected() -> None:
    with pytest.raises(InvalidInputError, match="unknown keys"):
        parse_profile(minimal_profile(surprise=1), "test.toml")


def test_invalid_jmespath_rejected() -> None:
    data = minimal_profile(counts={"items": {"state": "A", "output": ["items[?"]}})
    with pytest.raises(InvalidInputError, match="invalid JMESPath"):
        parse_profile(data, "test.toml")


def test_count_needs_output_or_map() -> None:
    data = minimal_profile(counts={"items": {"state": "A"}})
    with pytest.raises(InvalidInputError, match="needs `output` or `map`"):
        parse_profile(data, "test.toml")


def test_unknown_map_measure_rejected() -> None:
    data = minimal_profile(counts={"items": {"state": "A", "map": "finished"}})
    with pytest.raises(InvalidInputError, match="map must be one of"):
        parse_profile(data, "test.toml")


def test_stage_source_validated() -> None:
    data = minimal_profile(stages=[{"name": "x", "source": "guess"}])
    with pytest.raises(InvalidInputError, match="source"):
        parse_profile(data, "test.toml")


def test_logs_stage_needs_state_and_field() -> None:
    data = minimal_profile(stages=[{"name": "x", "source": "logs", "state": "A"}])
    with pytest.raises(InvalidInputError, match="needs `state` and `field`"):
        parse_profile(data, "test.toml")
