"""Download a snapshot prefix and count its embeddings with ChromaDB.

chromadb is an optional dependency (`sfn-forensics[chroma]`) and is imported only when counting.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from sfn_forensics.aws.s3_reads import list_prefix, open_object
from sfn_forensics.errors import InvalidInputError, UsageError
from sfn_forensics.snapshot.inspect import normalize_prefix
from sfn_forensics.snapshot.model import SQLITE_FILE_NAME

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

CHROMA_INSTALL_HINT = "pip install 'sfn-forensics[chroma]'"
_COPY_BUFFER_BYTES = 1024 * 1024


class ChromaNotInstalledError(UsageError):
    """chromadb is not installed, so a snapshot's embeddings cannot be counted."""

    def __init__(self) -> None:
        super().__init__(
            "counting snapshot embeddings requires chromadb, which is not installed",
            hint=CHROMA_INSTALL_HINT,
        )


class UnsafeKeyError(ValueError):
    """An S3 key under the prefix does not map to a path inside the download directory."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"refusing to download s3 key {key!r}: {reason}")
        self.key = key
        self.reason = reason


def _import_chromadb() -> tuple[Any, Any]:
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError as exc:
        raise ChromaNotInstalledError() from exc
    return chromadb, Settings


def count_embeddings(directory: Path) -> dict[str, int]:
    """Open a ChromaDB persistent directory and return each collection's `count()` by name.

    Raises ChromaNotInstalledError without chromadb, and InvalidInputError when `directory` has
    no chroma.sqlite3, because PersistentClient would create an empty database there instead.
    ChromaDB may migrate or write to the files it opens, so pass a downloaded copy.
    """
    chromadb, settings_class = _import_chromadb()
    if not (directory / SQLITE_FILE_NAME).is_file():
        raise InvalidInputError(
            f"{directory} is not a ChromaDB persistent directory: {SQLITE_FILE_NAME} is missing",
            hint="Download the snapshot prefix into the directory first.",
        )

    # Telemetry off: this tool must not send anything to hosts other than the AWS endpoints.
    settings = settings_class(anonymized_telemetry=False, allow_reset=False)
    client = chromadb.PersistentClient(path=str(directory), settings=settings)
    counts: dict[str, int] = {}
    for item in client.list_collections():
        # chromadb 0.6 lists names, 0.5 and 1.x list Collection objects.
        collection = client.get_collection(name=item) if isinstance(item, str) else item
        counts[str(collection.name)] = int(collection.count())
    log.info("counted %d collections in %s: %s", len(counts), directory, counts)
    return counts


def relative_download_path(prefix: str, key: str) -> PurePosixPath | None:
    """Map `key` to its path relative to the download directory.

    Returns None for the prefix itself and folder markers (keys ending in `/`). Raises
    UnsafeKeyError for a key outside `prefix`, an absolute remainder, or one with empty, `.` or
    `..` segments or a NUL character.
    """
    if not key.startswith(prefix):
        raise UnsafeKeyError(key, f"it is not under the prefix {prefix!r}")
    remainder = key[len(prefix) :]
    if not remainder or remainder.endswith("/"):
        return None
    if remainder.startswith("/"):
        raise UnsafeKeyError(key, "it maps to an absolute path")
    if "\x00" in remainder:
        raise UnsafeKeyError(key, "it contains a NUL character")
    segments = remainder.split("/")
    for segment in segments:
        if segment in {"", ".", ".."}:
            raise UnsafeKeyError(key, f"it contains the path segment {segment!r}")
    return PurePosixPath(*segments)


def download_prefix(client: S3Client, bucket: str, prefix: str, directory: Path) -> int:
    """Download every object under `prefix` into `directory` and return the bytes written.

    Each key maps to its remainder after `prefix` (a trailing slash is added to `prefix`). All
    keys are checked before anything is written, so one unsafe key (see `relative_download_path`)
    raises UnsafeKeyError with no file written.
    """
    prefix = normalize_prefix(prefix)
    root = directory.resolve()
    planned: list[tuple[str, Path]] = []
    for entry in list_prefix(client, bucket, prefix):
        key = str(entry["Key"])
        relative = relative_download_path(prefix, key)
        if relative is None:
            continue
        target = (root / relative).resolve()
        # Catches symlinks already inside the directory that point elsewhere.
        if not target.is_relative_to(root):
            raise UnsafeKeyError(key, f"it resolves outside {root}")
        planned.append((key, target))

    written = 0
    for key, target in planned:
        target.parent.mkdir(parents=True, exist_ok=True)
        body, _fields = open_object(client, bucket, key)
        try:
            with target.open("wb") as output:
                shutil.copyfileobj(body, output, _COPY_BUFFER_BYTES)
                written += output.tell()
        finally:
            body.close()
    log.info(
        "downloaded %d objects (%d bytes) from s3://%s/%s to %s",
        len(planned),
        written,
        bucket,
        prefix,
        root,
    )
    return written
