"""Check a ChromaDB snapshot prefix from its S3 listing, hash file and object metadata.

How the pipeline writes a snapshot, as read in its upload code: it hashes the local ChromaDB
directory (file_count, total_size_bytes), uploads every file of that directory with the same user
metadata, and then puts `.snapshot_hash` from memory. So the hash file's file_count normally equals
the listed objects other than `.snapshot_hash`.

The final merge, however, starts from a download of the previous snapshot (in the versions of
the pipeline code read for this module), which includes the previous `.snapshot_hash`. That stale
copy is then hashed, counted and uploaded as one of the directory's files before the new hash file
overwrites it. The listing then shows one object fewer than file_count (both hash files share one
key), and total_size_bytes includes the stale copy's size, which no listing shows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from sfn_forensics.snapshot.model import (
    HASH_FILE_NAME,
    RULE_EXCLUDING_HASH_FILE,
    RULE_INCLUDING_STALE_HASH_FILE,
    SQLITE_FILE_NAME,
    SnapshotHash,
    SnapshotMismatch,
    SnapshotReport,
)

log = logging.getLogger(__name__)

DEFAULT_TIMESTAMPED_BASE = "words/snapshot/timestamped/"
POINTER_FILE_NAME = "latest-pointer.txt"

# User metadata names that the final merge puts on every uploaded object.
METADATA_NAMES = ("batch_id", "database", "snapshot_hash", "snapshot_key", "total_embeddings")

MAX_LISTED_KEYS = 20

# Bytes by which a stale `.snapshot_hash` may differ in size from the listed one.
STALE_HASH_SIZE_TOLERANCE = 64

# Version ids are `%Y%m%d_%H%M%S` timestamps. The pattern accepts any plain file name, so another
# timestamp format still reads, but it rejects slashes, `..` and spaces.
_VERSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def normalize_prefix(prefix: str) -> str:
    """Return `prefix` with exactly one trailing slash, or "" for the whole bucket.

    The slash keeps `.../20250101_120000` from also matching `.../20250101_1200001/`.
    """
    stripped = prefix.rstrip("/")
    return f"{stripped}/" if stripped else ""


def pointer_key(database: str) -> str:
    """Return the key of the pointer object for `database` (`words` or `lines`)."""
    return f"{database}/snapshot/{POINTER_FILE_NAME}"


def timestamped_base(database: str) -> str:
    """Return the prefix under which `database` keeps its versioned snapshots."""
    return f"{database}/snapshot/timestamped/"


def version_from_prefix(prefix: str) -> str | None:
    """Return the version id of a `.../timestamped/<version>/` prefix, else None."""
    segments = [segment for segment in prefix.split("/") if segment]
    for index, segment in enumerate(segments[:-1]):
        if segment == "timestamped":
            return segments[index + 1]
    return None


def prefix_from_pointer(pointer_text: str, base: str = DEFAULT_TIMESTAMPED_BASE) -> str:
    """Return the snapshot prefix named by the text of a `latest-pointer.txt` object.

    The pointer contains a version id such as `20250101_120000`. A full prefix under `base` is
    also accepted. Raises ValueError for an empty pointer or one that is not a plain version id.
    """
    text = pointer_text.strip()
    base = normalize_prefix(base)
    if not text:
        raise ValueError(f"{POINTER_FILE_NAME} is empty, expected a version id")
    if "/" in text:
        if not text.startswith(base):
            raise ValueError(
                f"{POINTER_FILE_NAME} contains {text!r}, which is neither a version id "
                f"nor a prefix under {base}"
            )
        text = text[len(base) :].rstrip("/")
    if not _VERSION_ID.fullmatch(text):
        raise ValueError(f"{POINTER_FILE_NAME} contains {text!r}, which is not a valid version id")
    return f"{base}{text}/"


def _lower_keys(values: Mapping[str, str]) -> dict[str, str]:
    # S3 returns user metadata names in lower case, but callers may pass them in any case.
    return {name.lower(): value for name, value in values.items()}


def check_snapshot_listing(
    prefix: str,
    objects: list[dict[str, Any]],
    snapshot_hash: SnapshotHash | None,
    metadata: dict[str, dict[str, str]],
) -> SnapshotReport:
    """Compare a snapshot prefix's listing with its `.snapshot_hash` and user metadata.

    `objects` are ListObjectsV2 entries (Key, Size). `metadata` maps keys to the user metadata
    returned by HeadObject; keys absent from it are not checked for metadata. Objects outside
    `prefix` and folder markers are skipped and listed in `ignored_keys`.

    The file_count rule: the listing excluding `.snapshot_hash` must match file_count, and then
    total_size_bytes must match exactly. Failing that, one file more than listed is accepted when
    `.snapshot_hash` is listed and the unlisted bytes are within 64 bytes of its size. In that
    case the writer counted a stale hash file from the previous snapshot (see the module
    docstring). `file_count_rule` records which reading matched.
    """
    prefix = normalize_prefix(prefix)
    hash_key = prefix + HASH_FILE_NAME
    files: list[dict[str, Any]] = []
    hash_entry: dict[str, Any] | None = None
    ignored: list[str] = []

    for entry in objects:
        key = str(entry["Key"])
        if not key.startswith(prefix) or key.endswith("/"):
            ignored.append(key)
        elif key == hash_key:
            hash_entry = entry
        else:
            files.append(entry)

    report = SnapshotReport(
        prefix=prefix,
        version=version_from_prefix(prefix),
        object_count=len(files) + (1 if hash_entry is not None else 0),
        file_count=len(files),
        total_size_bytes=sum(int(entry.get("Size") or 0) for entry in files),
        hash_file_listed=hash_entry is not None,
        hash_file_size=int(hash_entry.get("Size") or 0) if hash_entry is not None else None,
        snapshot_hash=snapshot_hash,
        ignored_keys=ignored[:MAX_LISTED_KEYS],
    )
    if ignored:
        log.info("ignored %d keys outside %s or ending in '/'", len(ignored), prefix)

    _check_files(report, files, prefix)
    if snapshot_hash is not None:
        _check_counts(report, snapshot_hash)
    _check_metadata(report, metadata)
    return report


def _check_files(report: SnapshotReport, files: list[dict[str, Any]], prefix: str) -> None:
    if not files:
        report.mismatches.append(
            SnapshotMismatch(
                field="objects",
                expected="at least one file",
                actual=0,
                detail=f"no snapshot files are listed under {prefix}",
            )
        )
        return
    keys = {str(entry["Key"]) for entry in files}
    if prefix + SQLITE_FILE_NAME not in keys:
        report.mismatches.append(
            SnapshotMismatch(
                field=SQLITE_FILE_NAME,
                expected="present",
                actual="missing",
                detail=f"{prefix}{SQLITE_FILE_NAME} is not listed, so ChromaDB cannot open the "
                "snapshot",
            )
        )
    if not report.hash_file_listed:
        report.mismatches.append(
            SnapshotMismatch(
                field=HASH_FILE_NAME,
                expected="present",
                actual="missing",
                detail=f"{prefix}{HASH_FILE_NAME} is not listed",
            )
        )


def _check_counts(report: SnapshotReport, snapshot_hash: SnapshotHash) -> None:
    listed_count = report.file_count
    listed_size = report.total_size_bytes

    if snapshot_hash.file_count == listed_count:
        report.file_count_rule = RULE_EXCLUDING_HASH_FILE
        if snapshot_hash.total_size_bytes != listed_size:
            report.mismatches.append(
                SnapshotMismatch(
                    field="total_size_bytes",
                    expected=snapshot_hash.total_size_bytes,
                    actual=listed_size,
                    detail=f"{HASH_FILE_NAME} records {snapshot_hash.total_size_bytes} bytes, "
                    f"the {listed_count} listed files hold {listed_size} bytes",
                )
            )
        return

    stale_size = snapshot_hash.total_size_bytes - listed_size
    if snapshot_hash.file_count == listed_count + 1 and _fits_stale_hash_file(report, stale_size):
        report.file_count_rule = RULE_INCLUDING_STALE_HASH_FILE
        report.notes.append(
            f"{HASH_FILE_NAME} counts {snapshot_hash.file_count} files, one more than listed: "
            f"the writer counted a stale {HASH_FILE_NAME} of {stale_size} bytes from the "
            f"previous snapshot, which the new {report.hash_file_size}-byte hash file overwrote"
        )
        return

    report.mismatches.append(
        SnapshotMismatch(
            field="file_count",
            expected=snapshot_hash.file_count,
            actual=listed_count,
            detail=f"{HASH_FILE_NAME} records {snapshot_hash.file_count} files, "
            f"{listed_count} are listed besides {HASH_FILE_NAME}",
        )
    )
    if snapshot_hash.total_size_bytes != listed_size:
        report.mismatches.append(
            SnapshotMismatch(
                field="total_size_bytes",
                expected=snapshot_hash.total_size_bytes,
                actual=listed_size,
                detail=f"{HASH_FILE_NAME} records {snapshot_hash.total_size_bytes} bytes, "
                f"the listed files hold {listed_size} bytes",
            )
        )


def _fits_stale_hash_file(report: SnapshotReport, unlisted_size: int) -> bool:
    """Return whether `unlisted_size` bytes can be a previous `.snapshot_hash`.

    The previous hash file came from the same writer, so its size differs from the listed one's
    only in the digits of its counts, timestamp and timing.
    """
    if report.hash_file_size is None or unlisted_size <= 0:
        return False
    # NOTE: the tolerance is an estimate. A hash file written by an older pipeline version in
    # another format would fall outside it and be reported as a file_count mismatch.
    return abs(unlisted_size - report.hash_file_size) <= STALE_HASH_SIZE_TOLERANCE


def _check_metadata(report: SnapshotReport, metadata: dict[str, dict[str, str]]) -> None:
    values: dict[str, dict[str, str]] = {name: {} for name in METADATA_NAMES}
    for key in sorted(metadata):
        if not key.startswith(report.prefix):
            continue
        user_metadata = _lower_keys(metadata[key])
        for name in METADATA_NAMES:
            if name in user_metadata:
                values[name][key] = user_metadata[name]
        if (
            "total_embeddings" not in user_metadata
            and len(report.keys_without_total_embeddings) < MAX_LISTED_KEYS
        ):
            report.keys_without_total_embeddings.append(key)

    report.total_embeddings_by_key = dict(values["total_embeddings"])
    report.metadata_values = {
        name: sorted(set(by_key.values())) for name, by_key in values.items() if by_key
    }
    for name, distinct in report.metadata_values.items():
        if len(distinct) > 1:
            report.mismatches.append(
                SnapshotMismatch(
                    field=f"metadata.{name}",
                    expected="one value on every object",
                    actual=distinct,
                    detail=f"objects under {report.prefix} carry {len(distinct)} different "
                    f"{name} values",
                )
            )

    _check_total_embeddings(report)
    _check_metadata_against_listing(report)


def _check_total_embeddings(report: SnapshotReport) -> None:
    distinct = report.metadata_values.get("total_embeddings", [])
    if len(distinct) != 1:
        return
    text = distinct[0].strip()
    if not text.isdigit():
        report.mismatches.append(
            SnapshotMismatch(
                field="metadata.total_embeddings",
                expected="a non-negative integer",
                actual=distinct[0],
                detail="total_embeddings metadata is not a non-negative integer",
            )
        )
        return
    report.total_embeddings = int(text)


def _check_metadata_against_listing(report: SnapshotReport) -> None:
    snapshot_keys = report.metadata_values.get("snapshot_key", [])
    if len(snapshot_keys) == 1 and normalize_prefix(snapshot_keys[0]) != report.prefix:
        report.mismatches.append(
            SnapshotMismatch(
                field="metadata.snapshot_key",
                expected=report.prefix,
                actual=snapshot_keys[0],
                detail="the objects' snapshot_key metadata names another prefix",
            )
        )

    hashes = report.metadata_values.get("snapshot_hash", [])
    if (
        report.snapshot_hash is not None
        and len(hashes) == 1
        and hashes[0].lower() != report.snapshot_hash.directory_hash.lower()
    ):
        report.mismatches.append(
            SnapshotMismatch(
                field="metadata.snapshot_hash",
                expected=report.snapshot_hash.directory_hash,
                actual=hashes[0],
                detail=f"the objects' snapshot_hash metadata differs from the {HASH_FILE_NAME} "
                "directory_hash",
            )
        )

    databases = report.metadata_values.get("database", [])
    top_folder = report.prefix.split("/", 1)[0]
    if len(databases) == 1 and top_folder in {"words", "lines"} and databases[0] != top_folder:
        report.mismatches.append(
            SnapshotMismatch(
                field="metadata.database",
                expected=top_folder,
                actual=databases[0],
                detail=f"objects under {report.prefix} are tagged as database {databases[0]}",
            )
        )
