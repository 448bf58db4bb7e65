"""Checks on the ChromaDB snapshot that the ingest pipeline's final merge writes to S3."""

from sfn_forensics.snapshot.inspect import (
    check_snapshot_listing,
    normalize_prefix,
    pointer_key,
    prefix_from_pointer,
    timestamped_base,
    version_from_prefix,
)
from sfn_forensics.snapshot.model import (
    SnapshotHash,
    SnapshotHashError,
    SnapshotMismatch,
    SnapshotReport,
    parse_snapshot_hash,
)
from sfn_forensics.snapshot.verify import (
    ChromaNotInstalledError,
    UnsafeKeyError,
    count_embeddings,
    download_prefix,
)

__all__ = [
    "ChromaNotInstalledError",
    "SnapshotHash",
    "SnapshotHashError",
    "SnapshotMismatch",
    "SnapshotReport",
    "UnsafeKeyError",
    "check_snapshot_listing",
    "count_embeddings",
    "download_prefix",
    "normalize_prefix",
    "parse_snapshot_hash",
    "pointer_key",
    "prefix_from_pointer",
    "timestamped_base",
    "version_from_prefix",
]
