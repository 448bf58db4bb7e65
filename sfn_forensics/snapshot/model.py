"""The ChromaDB snapshot's `.snapshot_hash` file and the report on one snapshot prefix."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HASH_FILE_NAME = ".snapshot_hash"
SQLITE_FILE_NAME = "chroma.sqlite3"

# Names of the listing readings that can match the hash file's file_count
# (see inspect.check_snapshot_listing).
RULE_EXCLUDING_HASH_FILE = "excluding_hash_file"
RULE_INCLUDING_STALE_HASH_FILE = "including_stale_hash_file"

_HEX = re.compile(r"[0-9a-fA-F]+")


class SnapshotHashError(ValueError):
    """A `.snapshot_hash` file that is not valid JSON or has a missing or invalid field."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(f"invalid {HASH_FILE_NAME}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class SnapshotHash:
    """Contents of `.snapshot_hash`, written by the ingest pipeline next to the snapshot files.

    The writer hashes the local ChromaDB directory before it uploads, so `file_count` and
    `total_size_bytes` describe that directory. `calculated_at` is the ISO 8601 text as written,
    or None when the file has no such field.
    """

    directory_hash: str
    algorithm: str
    file_count: int
    total_size_bytes: int
    calculated_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "directory_hash": self.directory_hash,
            "algorithm": self.algorithm,
            "file_count": self.file_count,
            "total_size_bytes": self.total_size_bytes,
            "calculated_at": self.calculated_at,
        }


def _required(data: dict[str, Any], name: str) -> Any:
    if name not in data or data[name] is None:
        raise SnapshotHashError(f"field {name} is missing", name)
    return data[name]


def _non_negative_int(data: dict[str, Any], name: str) -> int:
    value = _required(data, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SnapshotHashError(f"field {name} must be a non-negative integer, got {value!r}", name)
    return value


def _non_empty_str(data: dict[str, Any], name: str) -> str:
    value = _required(data, name)
    if not isinstance(value, str) or not value.strip():
        raise SnapshotHashError(f"field {name} must be a non-empty string, got {value!r}", name)
    return value


def _hex_digest_length(algorithm: str) -> int | None:
    """Return the hex digest length of a hashlib algorithm, or None when it is unknown here."""
    try:
        digest_size = hashlib.new(algorithm).digest_size
    except (ValueError, TypeError):
        return None
    # Variable-length algorithms (shake_128, shake_256) report 0.
    return digest_size * 2 if digest_size else None


def parse_snapshot_hash(text: str) -> SnapshotHash:
    """Parse and validate the JSON text of a `.snapshot_hash` file.

    directory_hash (hexadecimal), algorithm, file_count and total_size_bytes are required.
    calculated_at is optional but must be ISO 8601 when present. Raises SnapshotHashError, a
    ValueError whose `field` names the offending field (None when the text is not a JSON object).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotHashError(f"not valid JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(data, dict):
        raise SnapshotHashError(f"expected a JSON object, got a JSON {type(data).__name__}")

    algorithm = _non_empty_str(data, "algorithm")
    directory_hash = _non_empty_str(data, "directory_hash")
    if not _HEX.fullmatch(directory_hash):
        raise SnapshotHashError(
            f"field directory_hash must be hexadecimal, got {directory_hash!r}", "directory_hash"
        )
    expected_length = _hex_digest_length(algorithm.lower())
    if expected_length is not None and len(directory_hash) != expected_length:
        raise SnapshotHashError(
            f"field directory_hash has {len(directory_hash)} hex digits, "
            f"but a {algorithm} digest has {expected_length}",
            "directory_hash",
        )

    calculated_at = data.get("calculated_at")
    if calculated_at is not None:
        if not isinstance(calculated_at, str):
            raise SnapshotHashError(
                f"field calculated_at must be an ISO 8601 string, got {calculated_at!r}",
                "calculated_at",
            )
        try:
            datetime.fromisoformat(calculated_at)
        except ValueError as exc:
            raise SnapshotHashError(
                f"field calculated_at is not an ISO 8601 time: {calculated_at!r}", "calculated_at"
            ) from exc

    return SnapshotHash(
        directory_hash=directory_hash,
        algorithm=algorithm,
        file_count=_non_negative_int(data, "file_count"),
        total_size_bytes=_non_negative_int(data, "total_size_bytes"),
        calculated_at=calculated_at,
    )


@dataclass(frozen=True)
class SnapshotMismatch:
    """One disagreement found in a snapshot prefix, with the values compared."""

    field: str
    expected: Any
    actual: Any
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail,
        }


@dataclass
class SnapshotReport:
    """Findings on one snapshot prefix from its listing, `.snapshot_hash` and user metadata.

    `file_count` and `total_size_bytes` cover the listed objects other than `.snapshot_hash` and
    folder markers (keys ending in `/`). `file_count_rule` names the reading of the listing that
    matched the hash file's file_count. It is None when none did or there is no hash file.
    """

    prefix: str
    version: str | None
    object_count: int
    file_count: int
    total_size_bytes: int
    hash_file_listed: bool
    hash_file_size: int | None
    snapshot_hash: SnapshotHash | None
    file_count_rule: str | None = None
    mismatches: list[SnapshotMismatch] = field(default_factory=list)
    total_embeddings_by_key: dict[str, str] = field(default_factory=dict)
    total_embeddings: int | None = None
    metadata_values: dict[str, list[str]] = field(default_factory=dict)
    keys_without_total_embeddings: list[str] = field(default_factory=list)
    ignored_keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.mismatches

    @property
    def batch_ids(self) -> list[str]:
        return list(self.metadata_values.get("batch_id", []))

    def to_json(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "version": self.version,
            "object_count": self.object_count,
            "file_count": self.file_count,
            "total_size_bytes": self.total_size_bytes,
            "hash_file_listed": self.hash_file_listed,
            "hash_file_size": self.hash_file_size,
            "snapshot_hash": self.snapshot_hash.to_json() if self.snapshot_hash else None,
            "file_count_rule": self.file_count_rule,
            "consistent": self.consistent,
            "mismatches": [mismatch.to_json() for mismatch in self.mismatches],
            "total_embeddings": self.total_embeddings,
            "total_embeddings_by_key": dict(self.total_embeddings_by_key),
            "metadata_values": {
                name: list(values) for name, values in self.metadata_values.items()
            },
            "keys_without_total_embeddings": list(self.keys_without_total_embeddings),
            "ignored_keys": list(self.ignored_keys),
            "notes": list(self.notes),
        }
