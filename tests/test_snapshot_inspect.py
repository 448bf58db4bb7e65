"""Offline tests of check_snapshot_listing on plain listing and metadata data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sfn_forensics.snapshot import SnapshotHash, check_snapshot_listing

PREFIX = "words/snapshot/timestamped/20250101_120000/"
COLLECTION = "5ce45b49-4da9-42c7-aceb-9f903a2c92bb"
FILE_SIZES = {
    "chroma.sqlite3": 4_800_000,
    f"{COLLECTION}/data_level0.bin": 360_000,
    f"{COLLECTION}/header.bin": 100,
    f"{COLLECTION}/index_metadata.pickle": 9_000,
    f"{COLLECTION}/length.bin": 4_000,
    f"{COLLECTION}/link_lists.bin": 0,
}
FILES_TOTAL = sum(FILE_SIZES.values())
HASH_FILE_SIZE = 251


def listing(
    sizes: dict[str, int] | None = None, with_hash_file: bool = True
) -> list[dict[str, Any]]:
    objects = [{"Key": PREFIX + name, "Size": size} for name, size in (sizes or FILE_SIZES).items()]
    if with_hash_file:
        objects.append({"Key": PREFIX + ".snapshot_hash", "Size": HASH_FILE_SIZE})
    return sorted(objects, key=lambda entry: str(entry["Key"]))


def snapshot_hash(file_count: int = len(FILE_SIZES), total: int = FILES_TOTAL) -> SnapshotHash:
    return SnapshotHash(
        directory_hash="9e107d9d372bb6826bd81d3542a419d6",
        algorithm="md5",
        file_count=file_count,
        total_size_bytes=total,
        calculated_at="2025-01-01T12:00:03+00:00",
    )


def user_metadata(**overrides: str) -> dict[str, str]:
    values = {
        "snapshot_key": PREFIX,
        "batch_id": "merge-7f3a",
        "total_embeddings": "13223",
        "database": "words",
        "snapshot_hash": "9e107d9d372bb6826bd81d3542a419d6",
    }
    values.update(overrides)
    return values


def metadata_for_all(**overrides: str) -> dict[str, dict[str, str]]:
    return {str(entry["Key"]): user_metadata(**overrides) for entry in listing()}


def mismatch_fields(report: Any) -> list[str]:
    return [mismatch.field for mismatch in report.mismatches]


def test_check_listing_consistent() -> None:
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata_for_all())
    assert report.mismatches == []
    assert report.consistent is True
    assert report.file_count == 6
    assert report.object_count == 7
    assert report.total_size_bytes == FILES_TOTAL
    assert report.hash_file_listed is True
    assert report.hash_file_size == HASH_FILE_SIZE
    assert report.file_count_rule == "excluding_hash_file"
    assert report.version == "20250101_120000"
    assert report.total_embeddings == 13223
    assert report.batch_ids == ["merge-7f3a"]
    assert len(report.total_embeddings_by_key) == 7


def test_check_listing_prefix_without_slash() -> None:
    report = check_snapshot_listing(
        PREFIX.rstrip("/"), listing(), snapshot_hash(), metadata_for_all()
    )
    assert report.prefix == PREFIX
    assert report.consistent is True


def test_check_listing_size_mismatch() -> None:
    sizes = dict(FILE_SIZES, **{"chroma.sqlite3": 4_799_000})
    report = check_snapshot_listing(PREFIX, listing(sizes), snapshot_hash(), metadata_for_all())
    assert mismatch_fields(report) == ["total_size_bytes"]
    assert report.mismatches[0].expected == FILES_TOTAL
    assert report.mismatches[0].actual == FILES_TOTAL - 1000


def test_check_listing_missing_file() -> None:
    sizes = {name: size for name, size in FILE_SIZES.items() if not name.endswith("length.bin")}
    report = check_snapshot_listing(PREFIX, listing(sizes), snapshot_hash(), metadata_for_all())
    assert mismatch_fields(report) == ["file_count", "total_size_bytes"]
    assert report.file_count_rule is None
    assert report.mismatches[0].expected == 6
    assert report.mismatches[0].actual == 5


def test_check_listing_stale_hash_file_counted() -> None:
    # The writer hashed a directory that still contained the previous snapshot's .snapshot_hash.
    stale = snapshot_hash(file_count=len(FILE_SIZES) + 1, total=FILES_TOTAL + 248)
    report = check_snapshot_listing(PREFIX, listing(), stale, metadata_for_all())
    assert report.mismatches == []
    assert report.file_count_rule == "including_stale_hash_file"
    assert "248 bytes" in report.notes[0]


def test_check_listing_stale_hash_needs_listed_hash_file() -> None:
    stale = snapshot_hash(file_count=len(FILE_SIZES) + 1, total=FILES_TOTAL + 248)
    report = check_snapshot_listing(PREFIX, listing(with_hash_file=False), stale, {})
    assert mismatch_fields(report) == [".snapshot_hash", "file_count", "total_size_bytes"]


def test_check_listing_stale_hash_too_large() -> None:
    hashed = snapshot_hash(file_count=len(FILE_SIZES) + 1, total=FILES_TOTAL + HASH_FILE_SIZE + 65)
    report = check_snapshot_listing(PREFIX, listing(), hashed, metadata_for_all())
    assert mismatch_fields(report) == ["file_count", "total_size_bytes"]


def test_check_listing_extra_count_same_size() -> None:
    hashed = snapshot_hash(file_count=len(FILE_SIZES) + 1, total=FILES_TOTAL)
    report = check_snapshot_listing(PREFIX, listing(), hashed, metadata_for_all())
    assert mismatch_fields(report) == ["file_count"]
    assert report.file_count_rule is None


def test_check_listing_without_hash_file() -> None:
    report = check_snapshot_listing(PREFIX, listing(with_hash_file=False), None, {})
    assert mismatch_fields(report) == [".snapshot_hash"]
    assert report.hash_file_listed is False
    assert report.hash_file_size is None
    assert report.file_count_rule is None


def test_check_listing_without_sqlite() -> None:
    sizes = {name: size for name, size in FILE_SIZES.items() if name != "chroma.sqlite3"}
    hashed = snapshot_hash(file_count=5, total=FILES_TOTAL - FILE_SIZES["chroma.sqlite3"])
    report = check_snapshot_listing(PREFIX, listing(sizes), hashed, {})
    assert mismatch_fields(report) == ["chroma.sqlite3"]


def test_check_listing_empty() -> None:
    report = check_snapshot_listing(PREFIX, [], None, {})
    assert mismatch_fields(report) == ["objects"]
    assert report.file_count == 0


def test_check_listing_ignores_outside_keys_and_markers() -> None:
    objects = [
        *listing(),
        {"Key": PREFIX, "Size": 0},
        {"Key": PREFIX + "empty-folder/", "Size": 0},
        {"Key": "words/snapshot/timestamped/20250101_1200001/chroma.sqlite3", "Size": 5},
    ]
    report = check_snapshot_listing(PREFIX, objects, snapshot_hash(), metadata_for_all())
    assert report.consistent is True
    assert report.file_count == 6
    assert len(report.ignored_keys) == 3


def test_check_listing_total_embeddings_disagree() -> None:
    metadata = metadata_for_all()
    metadata[PREFIX + "chroma.sqlite3"] = user_metadata(total_embeddings="13000")
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata)
    assert mismatch_fields(report) == ["metadata.total_embeddings"]
    assert report.mismatches[0].actual == ["13000", "13223"]
    assert report.total_embeddings is None
    assert report.total_embeddings_by_key[PREFIX + "chroma.sqlite3"] == "13000"


def test_check_listing_total_embeddings_not_integer() -> None:
    report = check_snapshot_listing(
        PREFIX, listing(), snapshot_hash(), metadata_for_all(total_embeddings="many")
    )
    assert mismatch_fields(report) == ["metadata.total_embeddings"]
    assert report.total_embeddings is None


def test_check_listing_batch_ids_disagree() -> None:
    metadata = metadata_for_all()
    metadata[PREFIX + ".snapshot_hash"] = user_metadata(batch_id="merge-older")
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata)
    assert mismatch_fields(report) == ["metadata.batch_id"]
    assert report.batch_ids == ["merge-7f3a", "merge-older"]


def test_check_listing_metadata_hash_differs() -> None:
    metadata = metadata_for_all(snapshot_hash="0" * 32)
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata)
    assert mismatch_fields(report) == ["metadata.snapshot_hash"]


def test_check_listing_metadata_snapshot_key_differs() -> None:
    metadata = metadata_for_all(snapshot_key="words/snapshot/timestamped/20241231_000000/")
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata)
    assert mismatch_fields(report) == ["metadata.snapshot_key"]


def test_check_listing_metadata_snapshot_key_without_slash() -> None:
    metadata = metadata_for_all(snapshot_key=PREFIX.rstrip("/"))
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata)
    assert report.consistent is True


def test_check_listing_metadata_database_differs() -> None:
    metadata = metadata_for_all(database="lines")
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata)
    assert mismatch_fields(report) == ["metadata.database"]


def test_check_listing_metadata_names_any_case() -> None:
    metadata = {
        key: {name.upper(): value for name, value in values.items()}
        for key, values in metadata_for_all().items()
    }
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata)
    assert report.total_embeddings == 13223


def test_check_listing_keys_without_total_embeddings() -> None:
    metadata = metadata_for_all()
    metadata[PREFIX + "chroma.sqlite3"] = {"batch_id": "merge-7f3a"}
    report = check_snapshot_listing(PREFIX, listing(), snapshot_hash(), metadata)
    assert report.keys_without_total_embeddings == [PREFIX + "chroma.sqlite3"]
    assert report.total_embeddings == 13223


@pytest.mark.parametrize("with_hash", [True, False])
def test_check_listing_report_to_json(with_hash: bool) -> None:
    hashed = snapshot_hash() if with_hash else None
    report = check_snapshot_listing(PREFIX, listing(), hashed, metadata_for_all(database="lines"))
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["consistent"] is False
    assert data["mismatches"][0]["field"] == "metadata.database"
    assert data["metadata_values"]["batch_id"] == ["merge-7f3a"]
