"""Download a snapshot prefix and count its embeddings with Chroma's own client."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from pathlib import Path

from sfn_forensics.aws.session import ClientFactory
from sfn_forensics.errors import SfnForensicsError
from sfn_forensics.evidence.model import Evidence

log = logging.getLogger(__name__)


def verify_snapshot(factory: ClientFactory, evidence: Evidence) -> None:
    """Fill `evidence.snapshot.verified_counts`, or `verify_error` with the reason it failed.

    Raises ChromaNotInstalledError (a usage error) when the `chroma` extra is missing, because
    the operator asked for verification explicitly.
    """
    snapshot = evidence.snapshot
    if snapshot is None or not snapshot.objects:
        return
    from sfn_forensics.aws.errors import aws_errors
    from sfn_forensics.snapshot.verify import (
        ChromaNotInstalledError,
        count_embeddings,
        download_prefix,
    )

    if importlib.util.find_spec("chromadb") is None:
        raise ChromaNotInstalledError()
    with tempfile.TemporaryDirectory(prefix="sfn-forensics-snapshot-") as directory:
        try:
            with aws_errors("s3", f"s3://{snapshot.bucket}/{snapshot.prefix}"):
                size = download_prefix(
                    factory.s3(), snapshot.bucket, snapshot.prefix, Path(directory)
                )
            log.info("downloaded %d bytes of s3://%s/%s", size, snapshot.bucket, snapshot.prefix)
            snapshot.verified_counts = count_embeddings(Path(directory))
        except (SfnForensicsError, ValueError) as error:
            message = error.message if isinstance(error, SfnForensicsError) else str(error)
            log.warning("snapshot verification failed: %s", message)
            snapshot.verify_error = f"verification failed: {message}"
