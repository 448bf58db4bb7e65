"""Counting embeddings in a real ChromaDB persistent directory built from explicit vectors.

No embedding model is involved: vectors are passed as `embeddings=` and collections are created
with `embedding_function=None`, so chromadb has nothing to download.
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from sfn_forensics.errors import InvalidInputError, UsageError
from sfn_forensics.sandbox.server import MotoServer
from sfn_forensics.snapshot import ChromaNotInstalledError, count_embeddings, download_prefix
from tests.test_snapshot_s3 import inspect_prefix, merge_metadata, upload_snapshot

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

requires_chroma = pytest.mark.skipif(
    importlib.util.find_spec("chromadb") is None,
    reason="chromadb is not installed; install it with: pip install 'sfn-forensics[chroma]'",
)

COLLECTION_SIZES = {"words": 137, "lines": 21}
DIMENSIONS = 8


def build_chroma_directory(directory: Path, sizes: dict[str, int]) -> None:
    """Create a persistent ChromaDB directory with one collection per entry of random vectors."""
    import chromadb
    from chromadb.config import Settings

    rng = random.Random(20250101)
    client = chromadb.PersistentClient(
        path=str(directory), settings=Settings(anonymized_telemetry=False)
    )
    for name, size in sizes.items():
        collection = client.create_collection(name=name, embedding_function=None)
        if size == 0:
            continue
        embeddings: list[Sequence[float]] = [
            [rng.random() for _ in range(DIMENSIONS)] for _ in range(size)
        ]
        collection.add(
            ids=[f"{name.upper()}#{index:06d}" for index in range(size)], embeddings=embeddings
        )


@requires_chroma
def test_count_embeddings_two_collections(tmp_path: Path) -> None:
    built = tmp_path / "built"
    build_chroma_directory(built, COLLECTION_SIZES)
    # Count a copy, as an investigation counts a downloaded snapshot.
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    assert count_embeddings(copy) == COLLECTION_SIZES


@requires_chroma
def test_count_embeddings_empty_collection(tmp_path: Path) -> None:
    build_chroma_directory(tmp_path / "db", {"words": 0})
    shutil.copytree(tmp_path / "db", tmp_path / "copy")
    assert count_embeddings(tmp_path / "copy") == {"words": 0}


@requires_chroma
def test_count_embeddings_not_a_chroma_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"chroma\.sqlite3 is missing"):
        count_embeddings(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_count_embeddings_without_chromadb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import chromadb` raise ImportError.
    monkeypatch.setitem(sys.modules, "chromadb", None)
    with pytest.raises(ChromaNotInstalledError) as caught:
        count_embeddings(tmp_path)
    assert isinstance(caught.value, UsageError)
    assert caught.value.hint == "pip install 'sfn-forensics[chroma]'"


@requires_chroma
@pytest.mark.sandbox
def test_count_embeddings_after_download(moto_server: MotoServer, tmp_path: Path) -> None:
    s3: S3Client = boto3.client(
        "s3", endpoint_url=moto_server.endpoint_url, region_name="us-east-1"
    )
    bucket = f"chromadb-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    prefix = "words/snapshot/timestamped/20250101_120000/"
    built = tmp_path / "built"
    build_chroma_directory(built, {"words": 500})
    upload_snapshot(s3, bucket, built, prefix, merge_metadata(prefix, 500))

    report = inspect_prefix(s3, bucket, prefix)
    download_prefix(s3, bucket, prefix, tmp_path / "download")
    counts = count_embeddings(tmp_path / "download")

    assert report.mismatches == []
    assert counts == {"words": 500}
    assert report.total_embeddings == sum(counts.values())
