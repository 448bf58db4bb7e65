"""Offline tests of `.snapshot_hash` parsing and the snapshot prefix helpers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sfn_forensics.snapshot import (
    SnapshotHashError,
    normalize_prefix,
    parse_snapshot_hash,
    pointer_key,
    prefix_from_pointer,
    timestamped_base,
    version_from_prefix,
)

MD5_HEX = "9e107d9d372bb6826bd81d3542a419d6"


def hash_text(**overrides: Any) -> str:
    data: dict[str, Any] = {
        "directory_hash": MD5_HEX,
        "algorithm": "md5",
        "file_count": 6,
        "total_size_bytes": 5_170_588,
        "calculated_at": "2025-01-01T12:00:03.123456+00:00",
        "calculation_time_seconds": 0.42,
        "version": "1.0",
    }
    data.update(overrides)
    return json.dumps({name: value for name, value in data.items() if value is not ...})


def hash_error(text: str) -> SnapshotHashError:
    with pytest.raises(SnapshotHashError) as caught:
        parse_snapshot_hash(text)
    return caught.value


def test_parse_snapshot_hash_fields() -> None:
    parsed = parse_snapshot_hash(hash_text())
    assert parsed.directory_hash == MD5_HEX
    assert parsed.algorithm == "md5"
    assert parsed.file_count == 6
    assert parsed.total_size_bytes == 5_170_588
    assert parsed.calculated_at == "2025-01-01T12:00:03.123456+00:00"


def test_parse_snapshot_hash_sha256() -> None:
    parsed = parse_snapshot_hash(hash_text(algorithm="sha256", directory_hash="ab" * 32))
    assert parsed.algorithm == "sha256"


def test_parse_snapshot_hash_without_calculated_at() -> None:
    assert parse_snapshot_hash(hash_text(calculated_at=...)).calculated_at is None


def test_parse_snapshot_hash_to_json() -> None:
    data = parse_snapshot_hash(hash_text()).to_json()
    assert data == {
        "directory_hash": MD5_HEX,
        "algorithm": "md5",
        "file_count": 6,
        "total_size_bytes": 5_170_588,
        "calculated_at": "2025-01-01T12:00:03.123456+00:00",
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"directory_hash": ...}, "directory_hash"),
        ({"directory_hash": None}, "directory_hash"),
        ({"directory_hash": ""}, "directory_hash"),
        ({"directory_hash": "not-hex"}, "directory_hash"),
        ({"directory_hash": "abc123"}, "directory_hash"),
        ({"algorithm": ...}, "algorithm"),
        ({"algorithm": 5}, "algorithm"),
        ({"file_count": ...}, "file_count"),
        ({"file_count": "6"}, "file_count"),
        ({"file_count": -1}, "file_count"),
        ({"file_count": True}, "file_count"),
        ({"file_count": 6.0}, "file_count"),
        ({"total_size_bytes": ...}, "total_size_bytes"),
        ({"total_size_bytes": "5170588"}, "total_size_bytes"),
        ({"calculated_at": 1735732800}, "calculated_at"),
        ({"calculated_at": "yesterday"}, "calculated_at"),
    ],
)
def test_parse_snapshot_hash_invalid_field(overrides: dict[str, Any], field: str) -> None:
    error = hash_error(hash_text(**overrides))
    assert error.field == field
    assert field in str(error)


def test_parse_snapshot_hash_unknown_algorithm_accepted() -> None:
    parsed = parse_snapshot_hash(hash_text(algorithm="xxh64", directory_hash="0123abcd" * 2))
    assert parsed.algorithm == "xxh64"


@pytest.mark.parametrize("text", ["", "md5:9e107d9d372bb6826bd81d3542a419d6", "{"])
def test_parse_snapshot_hash_not_json(text: str) -> None:
    error = hash_error(text)
    assert error.field is None
    assert "not valid JSON" in str(error)


def test_parse_snapshot_hash_not_object() -> None:
    error = hash_error("[1, 2]")
    assert "expected a JSON object" in str(error)


def test_parse_snapshot_hash_error_is_value_error() -> None:
    assert isinstance(hash_error("{}"), ValueError)


@pytest.mark.parametrize(
    ("prefix", "version"),
    [
        ("words/snapshot/timestamped/20250101_120000/", "20250101_120000"),
        ("lines/snapshot/timestamped/20250101_120000", "20250101_120000"),
        ("words/snapshot/timestamped/", None),
        ("words/snapshot/latest/", None),
        ("", None),
    ],
)
def test_version_from_prefix(prefix: str, version: str | None) -> None:
    assert version_from_prefix(prefix) == version


@pytest.mark.parametrize(
    "text",
    [
        "20250101_120000",
        "20250101_120000\n",
        "  20250101_120000  ",
        "words/snapshot/timestamped/20250101_120000/",
        "words/snapshot/timestamped/20250101_120000",
    ],
)
def test_prefix_from_pointer(text: str) -> None:
    assert prefix_from_pointer(text) == "words/snapshot/timestamped/20250101_120000/"


def test_prefix_from_pointer_lines_base() -> None:
    prefix = prefix_from_pointer("20250101_120000", base=timestamped_base("lines"))
    assert prefix == "lines/snapshot/timestamped/20250101_120000/"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \n",
        "..",
        "../20250101_120000",
        "lines/snapshot/timestamped/20250101_120000/",
        "words/snapshot/timestamped/a/b/",
        "2025 0101",
        ".hidden",
    ],
)
def test_prefix_from_pointer_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"latest-pointer\.txt"):
        prefix_from_pointer(text)


def test_pointer_key() -> None:
    assert pointer_key("words") == "words/snapshot/latest-pointer.txt"


@pytest.mark.parametrize(
    ("prefix", "normalized"),
    [("a/b", "a/b/"), ("a/b/", "a/b/"), ("a/b//", "a/b/"), ("", ""), ("/", "")],
)
def test_normalize_prefix(prefix: str, normalized: str) -> None:
    assert normalize_prefix(prefix) == normalized
