"""A ChromaDB snapshot prefix staged on the local moto S3 server and read back over HTTP.

The upload helpers here write a snapshot the way the ingest pipeline's final merge does: hash the
local directory, upload each file with the same user metadata, then put `.snapshot_hash` last.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from sfn_forensics.aws.s3_reads import head_object, list_prefix, read_text
from sfn_forensics.sandbox.server import MotoServer
from sfn_forensics.snapshot import (
    SnapshotReport,
    UnsafeKeyError,
    check_snapshot_listing,
    download_prefix,
    parse_snapshot_hash,
    pointer_key,
    prefix_from_pointer,
)
from sfn_forensics.snapshot.verify import relative_download_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.sandbox

VERSION = "20250101_120000"
PREFIX = f"words/snapshot/timestamped/{VERSION}/"
COLLECTION_DIR = "5ce45b49-4da9-42c7-aceb-9f903a2c92bb"


@pytest.fixture
def s3(moto_server: MotoServer) -> S3Client:
    return boto3.client("s3", endpoint_url=moto_server.endpoint_url, region_name="us-east-1")


@pytest.fixture
def bucket(s3: S3Client) -> str:
    name = f"chromadb-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def hash_directory(directory: Path) -> dict[str, Any]:
    """Return `.snapshot_hash` content for `directory`: md5 over "<file md5>  <relative path>"."""
    files = sorted(
        (path.relative_to(directory).as_posix(), path)
        for path in directory.rglob("*")
        if path.is_file()
    )
    combined = hashlib.md5()
    for relative, path in files:
        combined.update(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {relative}\n".encode())
    return {
        "directory_hash": combined.hexdigest(),
        "algorithm": "md5",
        "file_count": len(files),
        "total_size_bytes": sum(path.stat().st_size for _, path in files),
        "calculated_at": datetime.now(UTC).isoformat(),
        "calculation_time_seconds": 0.01,
        "version": "1.0",
    }


def upload_snapshot(
    s3: S3Client, bucket: str, directory: Path, prefix: str, metadata: dict[str, str]
) -> dict[str, Any]:
    """Upload `directory` under `prefix` with `.snapshot_hash`, and return the hash content."""
    hash_content = hash_directory(directory)
    object_metadata = dict(metadata, snapshot_hash=hash_content["directory_hash"])
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            key = prefix + path.relative_to(directory).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), Metadata=object_metadata)
    s3.put_object(
        Bucket=bucket,
        Key=prefix + ".snapshot_hash",
        Body=json.dumps(hash_content, indent=2).encode(),
        ContentType="application/json",
        Metadata=object_metadata,
    )
    return hash_content


def merge_metadata(prefix: str, total_embeddings: int) -> dict[str, str]:
    return {
        "snapshot_key": prefix,
        "batch_id": "merge-7f3a",
        "total_embeddings": str(total_embeddings),
        "database": "words",
    }


def make_fake_chroma_directory(directory: Path) -> None:
    """Write files named like a ChromaDB persistent directory, with arbitrary content."""
    collection = directory / COLLECTION_DIR
    collection.mkdir(parents=True)
    (directory / "chroma.sqlite3").write_bytes(os.urandom(40_000))
    (collection / "data_level0.bin").write_bytes(os.urandom(12_000))
    (collection / "header.bin").write_bytes(os.urandom(100))
    (collection / "length.bin").write_bytes(os.urandom(400))
    (collection / "link_lists.bin").write_bytes(b"")


def inspect_prefix(s3: S3Client, bucket: str, prefix: str) -> SnapshotReport:
    """Read a snapshot prefix the way an investigation does and check it."""
    objects = list_prefix(s3, bucket, prefix)
    metadata = {
        str(entry["Key"]): head_object(s3, bucket, str(entry["Key"]))["Metadata"]
        for entry in objects
    }
    snapshot_hash = parse_snapshot_hash(read_text(s3, bucket, prefix + ".snapshot_hash"))
    return check_snapshot_listing(prefix, objects, snapshot_hash, metadata)


@pytest.fixture
def staged_snapshot(s3: S3Client, bucket: str, tmp_path: Path) -> dict[str, Any]:
    local = tmp_path / "snapshot"
    make_fake_chroma_directory(local)
    hash_content = upload_snapshot(s3, bucket, local, PREFIX, merge_metadata(PREFIX, 321))
    s3.put_object(Bucket=bucket, Key=pointer_key("words"), Body=f"{VERSION}\n".encode())
    return {"local": local, "hash": hash_content}


def test_snapshot_pointer_to_prefix(s3: S3Client, bucket: str, staged_snapshot: Any) -> None:
    prefix = prefix_from_pointer(read_text(s3, bucket, pointer_key("words")))
    assert prefix == PREFIX


def test_snapshot_listing_consistent(s3: S3Client, bucket: str, staged_snapshot: Any) -> None:
    report = inspect_prefix(s3, bucket, PREFIX)
    assert report.mismatches == []
    assert report.file_count == 5
    assert report.file_count == staged_snapshot["hash"]["file_count"]
    assert report.total_size_bytes == staged_snapshot["hash"]["total_size_bytes"]
    assert report.file_count_rule == "excluding_hash_file"
    assert report.total_embeddings == 321
    assert report.batch_ids == ["merge-7f3a"]
    assert report.version == VERSION


def test_snapshot_listing_size_mismatch(
    s3: S3Client, bucket: str, staged_snapshot: dict[str, Any]
) -> None:
    # A later write replaced one file with a shorter one after the hash was taken.
    s3.put_object(
        Bucket=bucket,
        Key=PREFIX + f"{COLLECTION_DIR}/length.bin",
        Body=b"short",
        Metadata=merge_metadata(PREFIX, 321),
    )
    report = inspect_prefix(s3, bucket, PREFIX)
    fields = [mismatch.field for mismatch in report.mismatches]
    assert "total_size_bytes" in fields
    assert report.total_size_bytes == staged_snapshot["hash"]["total_size_bytes"] - 395


def test_snapshot_listing_metadata_disagrees(
    s3: S3Client, bucket: str, staged_snapshot: dict[str, Any]
) -> None:
    key = PREFIX + "chroma.sqlite3"
    body = (staged_snapshot["local"] / "chroma.sqlite3").read_bytes()
    metadata = dict(
        merge_metadata(PREFIX, 300), snapshot_hash=staged_snapshot["hash"]["directory_hash"]
    )
    s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
    report = inspect_prefix(s3, bucket, PREFIX)
    assert [mismatch.field for mismatch in report.mismatches] == ["metadata.total_embeddings"]
    assert report.total_embeddings_by_key[key] == "300"


def test_snapshot_second_merge_stale_hash(
    s3: S3Client, bucket: str, staged_snapshot: dict[str, Any], tmp_path: Path
) -> None:
    # The next merge downloads the current snapshot, .snapshot_hash included, and uploads it all.
    working = tmp_path / "next-merge"
    download_prefix(s3, bucket, PREFIX, working)
    (working / COLLECTION_DIR / "data_level0.bin").write_bytes(os.urandom(15_000))
    next_prefix = "words/snapshot/timestamped/20250102_090000/"
    hash_content = upload_snapshot(
        s3, bucket, working, next_prefix, merge_metadata(next_prefix, 400)
    )

    report = inspect_prefix(s3, bucket, next_prefix)

    assert hash_content["file_count"] == 6
    assert report.file_count == 5
    assert report.file_count_rule == "including_stale_hash_file"
    assert report.mismatches == []


def test_snapshot_download_prefix(
    s3: S3Client, bucket: str, staged_snapshot: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "download"
    written = download_prefix(s3, bucket, PREFIX.rstrip("/"), target)

    hash_file = target / ".snapshot_hash"
    expected = staged_snapshot["hash"]["total_size_bytes"] + hash_file.stat().st_size
    assert written == expected
    local: Path = staged_snapshot["local"]
    for path in local.rglob("*"):
        if path.is_file():
            copy = target / path.relative_to(local)
            assert copy.read_bytes() == path.read_bytes(), path.name
    assert json.loads(hash_file.read_text()) == staged_snapshot["hash"]


def test_snapshot_download_rejects_parent_key(
    s3: S3Client, bucket: str, staged_snapshot: Any, tmp_path: Path
) -> None:
    s3.put_object(Bucket=bucket, Key=PREFIX + "../evil", Body=b"escaped")
    target = tmp_path / "download"
    with pytest.raises(UnsafeKeyError) as caught:
        download_prefix(s3, bucket, PREFIX, target)
    assert caught.value.key == PREFIX + "../evil"
    assert not target.exists()
    assert not (tmp_path / "evil").exists()


def test_snapshot_download_rejects_absolute_key(s3: S3Client, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="/etc/evil", Body=b"escaped")
    with pytest.raises(UnsafeKeyError, match="absolute"):
        download_prefix(s3, bucket, "", tmp_path / "download")


def test_snapshot_download_rejects_symlink_escape(
    s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "download"
    target.mkdir()
    (target / "link").symlink_to(outside, target_is_directory=True)
    s3.put_object(Bucket=bucket, Key=PREFIX + "link/evil", Body=b"escaped")
    with pytest.raises(UnsafeKeyError, match="resolves outside"):
        download_prefix(s3, bucket, PREFIX, target)
    assert list(outside.iterdir()) == []


def test_snapshot_download_skips_folder_markers(s3: S3Client, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key=PREFIX, Body=b"")
    s3.put_object(Bucket=bucket, Key=PREFIX + "empty/", Body=b"")
    s3.put_object(Bucket=bucket, Key=PREFIX + "chroma.sqlite3", Body=b"db")
    target = tmp_path / "download"
    assert download_prefix(s3, bucket, PREFIX, target) == 2
    assert sorted(path.name for path in target.iterdir()) == ["chroma.sqlite3"]


@pytest.mark.parametrize(
    "key",
    [
        PREFIX + "../evil",
        PREFIX + "a/../../evil",
        PREFIX + "./chroma.sqlite3",
        PREFIX + "a//b",
        PREFIX + "a/\x00b",
        "words/snapshot/timestamped/other/chroma.sqlite3",
    ],
)
def test_relative_download_path_rejects(key: str) -> None:
    with pytest.raises(UnsafeKeyError):
        relative_download_path(PREFIX, key)


def test_relative_download_path_nested() -> None:
    relative = relative_download_path(PREFIX, PREFIX + f"{COLLECTION_DIR}/header.bin")
    assert relative is not None
    assert relative.as_posix() == f"{COLLECTION_DIR}/header.bin"


def test_relative_download_path_dotted_names_allowed() -> None:
    relative = relative_download_path(PREFIX, PREFIX + "..snapshot..v1")
    assert relative is not None
    assert relative.name == "..snapshot..v1"
