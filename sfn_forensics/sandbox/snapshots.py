"""Real ChromaDB snapshots for the staged runs, built in a worker process and put in S3.

A snapshot is a ChromaDB persistent directory with one collection (`words` or `lines`) that
contains one 8-dimensional vector per embedding of the deltas the final merge kept. The vectors
are explicit and seeded, so no embedding function (and no model download) is ever involved.

The upload follows the ingest pipeline's layout under `<database>/snapshot/`:
`timestamped/<version>/<relative path>` for every file of the directory, each with the user
metadata snapshot_key, batch_id (the execution name), total_embeddings, database and
snapshot_hash; then `timestamped/<version>/.snapshot_hash`; and last `latest-pointer.txt`,
which contains the version id.

Building takes seconds per snapshot, so `SnapshotBuilder` starts the builds in a worker
process when staging begins and the uploads wait for them after each execution.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sfn_forensics.errors import SandboxError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

HASH_FILE_NAME = ".snapshot_hash"
POINTER_FILE_NAME = "latest-pointer.txt"
HASH_ALGORITHM = "sha256"
VECTOR_DIMENSIONS = 8
# HNSW settings chosen for build speed; counts and metadata do not depend on them.
HNSW_CONFIGURATION: dict[str, Any] = {"hnsw": {"ef_construction": 32, "max_neighbors": 8}}
BUILD_TIMEOUT_SECONDS = 300.0
_READ_BUFFER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SnapshotSpec:
    """The content of one snapshot: its database and the embeddings of each batch."""

    execution_name: str
    database: str
    # (batch_id, embedding count) per delta that reached the snapshot.
    batches: tuple[tuple[str, int], ...]

    @property
    def total_embeddings(self) -> int:
        return sum(count for _, count in self.batches)


@dataclass(frozen=True)
class BuiltSnapshot:
    """A built ChromaDB directory, its files and their directory hash."""

    directory: str
    collection: str
    total_embeddings: int
    # (relative POSIX path, size in bytes), sorted by path.
    files: tuple[tuple[str, int], ...]
    directory_hash: str
    build_seconds: float

    @property
    def total_size_bytes(self) -> int:
        return sum(size for _, size in self.files)


@dataclass(frozen=True)
class UploadedSnapshot:
    bucket: str
    prefix: str
    version: str
    # Keys put, the `.snapshot_hash` included and the pointer left out.
    keys: tuple[str, ...]
    pointer_updated: bool


def build_snapshot(spec: SnapshotSpec, directory: str) -> BuiltSnapshot:
    """Create the ChromaDB directory for `spec` in the empty `directory` and hash it."""
    started = time.monotonic()
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError as error:
        raise RuntimeError(f"chromadb is not installed: {error}") from None

    # Telemetry off: the sandbox talks to 127.0.0.1 only.
    client = chromadb.PersistentClient(
        path=directory, settings=Settings(anonymized_telemetry=False, allow_reset=False)
    )
    try:
        collection = client.create_collection(
            name=spec.database,
            embedding_function=None,
            metadata={"source": "sfn-forensics sandbox"},
            configuration=cast(Any, HNSW_CONFIGURATION),
        )
        batch_size = int(client.get_max_batch_size())
        pending_ids: list[str] = []
        pending_metadata: list[dict[str, str | int | float | bool]] = []
        rng = random.Random(f"{spec.execution_name}:{spec.database}")
        for batch_id, count in spec.batches:
            for number in range(count):
                pending_ids.append(f"{batch_id}#{number:05d}")
                pending_metadata.append({"batch_id": batch_id})
                if len(pending_ids) == batch_size:
                    _add(collection, pending_ids, pending_metadata, rng)
                    pending_ids, pending_metadata = [], []
        if pending_ids:
            _add(collection, pending_ids, pending_metadata, rng)
        counted = int(collection.count())
    finally:
        # Client.close (chromadb 1.x) releases the SQLite files; ClientAPI does not declare it.
        close = getattr(client, "close", None)
        if close is not None:
            close()
    if counted != spec.total_embeddings:
        raise RuntimeError(
            f"the {spec.database} collection contains {counted} embeddings, "
            f"expected {spec.total_embeddings}"
        )
    files, digest = hash_directory(Path(directory))
    return BuiltSnapshot(
        directory=directory,
        collection=spec.database,
        total_embeddings=counted,
        files=files,
        directory_hash=digest,
        build_seconds=time.monotonic() - started,
    )


def _add(
    collection: Any,
    ids: list[str],
    metadata: list[dict[str, str | int | float | bool]],
    rng: random.Random,
) -> None:
    vectors = [[rng.uniform(-1.0, 1.0) for _ in range(VECTOR_DIMENSIONS)] for _ in ids]
    collection.add(ids=ids, embeddings=vectors, metadatas=metadata)


def hash_directory(directory: Path) -> tuple[tuple[tuple[str, int], ...], str]:
    """Return the directory's files (relative POSIX path, size) and their sha256 directory hash.

    The hash covers every file except `.snapshot_hash`, in sorted relative-path order: for
    each file its path in UTF-8, a NUL byte, then its content.
    """
    paths = sorted(
        (path.relative_to(directory).as_posix(), path)
        for path in directory.rglob("*")
        if path.is_file() and path.name != HASH_FILE_NAME
    )
    digest = hashlib.new(HASH_ALGORITHM)
    files: list[tuple[str, int]] = []
    for relative, path in paths:
        digest.update(relative.encode())
        digest.update(b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_BUFFER_BYTES):
                digest.update(chunk)
        files.append((relative, path.stat().st_size))
    return tuple(files), digest.hexdigest()


def snapshot_hash_document(built: BuiltSnapshot, calculated_at: datetime) -> dict[str, Any]:
    """Return the `.snapshot_hash` content: the hash over the files and their count and size."""
    return {
        "directory_hash": built.directory_hash,
        "algorithm": HASH_ALGORITHM,
        "file_count": len(built.files),
        "total_size_bytes": built.total_size_bytes,
        "calculated_at": calculated_at.isoformat(),
    }


def upload_snapshot(
    s3: S3Client,
    bucket: str,
    prefix: str,
    execution_name: str,
    built: BuiltSnapshot,
    calculated_at: datetime,
) -> UploadedSnapshot:
    """Put the snapshot files, then `.snapshot_hash`, then the pointer (when it is newer).

    `prefix` is `<database>/snapshot/timestamped/<version>/`; objects already under it are
    deleted first. The pointer is left alone when it already names a later version, so it
    always names the latest snapshot.
    """
    database, _, rest = prefix.partition("/snapshot/timestamped/")
    version = rest.strip("/")
    if not database or not version or "/" in version:
        raise SandboxError(
            f"snapshot prefix {prefix!r} is not <database>/snapshot/timestamped/<version>/"
        )
    metadata = {
        "snapshot_key": prefix,
        "batch_id": execution_name,
        "total_embeddings": str(built.total_embeddings),
        "database": database,
        "snapshot_hash": built.directory_hash,
    }
    # Objects left by an earlier upload to this prefix would not match the new hash file.
    stale = _delete_prefix(s3, bucket, prefix)
    if stale:
        log.info("deleted %d objects left under s3://%s/%s", stale, bucket, prefix)
    keys: list[str] = []
    root = Path(built.directory)
    for relative, _size in built.files:
        key = prefix + relative
        with (root / relative).open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
        keys.append(key)

    hash_key = prefix + HASH_FILE_NAME
    document = snapshot_hash_document(built, calculated_at)
    s3.put_object(
        Bucket=bucket,
        Key=hash_key,
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
        Metadata=metadata,
    )
    keys.append(hash_key)

    pointer_key = f"{database}/snapshot/{POINTER_FILE_NAME}"
    current = _read_pointer(s3, bucket, pointer_key)
    pointer_updated = current is None or current <= version
    if pointer_updated:
        s3.put_object(
            Bucket=bucket, Key=pointer_key, Body=version.encode(), ContentType="text/plain"
        )
    log.info(
        "uploaded snapshot s3://%s/%s: %d files, %d bytes, %d embeddings%s",
        bucket,
        prefix,
        len(built.files),
        built.total_size_bytes,
        built.total_embeddings,
        "" if pointer_updated else f" (pointer kept at the later version {current})",
    )
    return UploadedSnapshot(
        bucket=bucket,
        prefix=prefix,
        version=version,
        keys=tuple(keys),
        pointer_updated=pointer_updated,
    )


def _delete_prefix(s3: S3Client, bucket: str, prefix: str) -> int:
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": item["Key"]} for item in page.get("Contents", [])
        ]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def _read_pointer(s3: S3Client, bucket: str, key: str) -> str | None:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return None
    return response["Body"].read().decode().strip() or None


class SnapshotBuilder:
    """Build snapshots in one worker process while the caller runs executions.

    The worker is `python -m sfn_forensics.sandbox.snapshots`. It reads one JSON job per line
    on stdin, builds the snapshots in that order and writes one JSON result per line on stdout.
    A separate process keeps ChromaDB's Python work, which holds the GIL for most of a build,
    off the staging process. Use the builder as a context manager: leaving it stops the worker
    and deletes the built directories.
    """

    def __init__(self) -> None:
        self._root = tempfile.mkdtemp(prefix="sfn-sandbox-snapshots-")
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._submitted: dict[str, str] = {}
        self._results: dict[str, dict[str, Any]] = {}
        self._changed = threading.Condition()
        self._stderr_path = os.path.join(self._root, "worker-stderr.txt")

    def __enter__(self) -> SnapshotBuilder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, name: str, spec: SnapshotSpec) -> None:
        """Queue the snapshot `name` for building unless it was queued already."""
        if name in self._submitted:
            return
        process = self._ensure_worker()
        directory = os.path.join(self._root, f"snapshot-{len(self._submitted):03d}")
        os.mkdir(directory)
        job = {
            "name": name,
            "directory": directory,
            "execution_name": spec.execution_name,
            "database": spec.database,
            "batches": [list(item) for item in spec.batches],
        }
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(job) + "\n")
            process.stdin.flush()
        except OSError as error:
            raise SandboxError(
                f"the snapshot worker stopped: {error}{self._stderr_tail()}"
            ) from None
        self._submitted[name] = directory
        log.info("queued snapshot %s: %d embeddings", name, spec.total_embeddings)

    def result(self, name: str, timeout: float = BUILD_TIMEOUT_SECONDS) -> BuiltSnapshot:
        """Wait for the snapshot `name` and return it; raise SandboxError if the build failed."""
        if name not in self._submitted:
            raise SandboxError(f"no snapshot build was queued for {name}")
        deadline = time.monotonic() + timeout
        with self._changed:
            while name not in self._results:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SandboxError(
                        f"building the snapshot of {name} took more than {timeout:.0f} s"
                    )
                if self._reader is None or not self._reader.is_alive():
                    raise SandboxError(
                        f"the snapshot worker exited before building {name}{self._stderr_tail()}"
                    )
                self._changed.wait(min(remaining, 1.0))
            reply = self._results[name]
        if not reply.get("ok"):
            raise SandboxError(f"building the snapshot of {name} failed: {reply.get('error')}")
        built = reply["built"]
        return BuiltSnapshot(
            directory=str(built["directory"]),
            collection=str(built["collection"]),
            total_embeddings=int(built["total_embeddings"]),
            files=tuple((str(path), int(size)) for path, size in built["files"]),
            directory_hash=str(built["directory_hash"]),
            build_seconds=float(built["build_seconds"]),
        )

    def close(self) -> None:
        """Stop the worker (ending builds still queued) and delete the built directories."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if self._reader is not None:
            self._reader.join(timeout=10)
        shutil.rmtree(self._root, ignore_errors=True)

    def _ensure_worker(self) -> subprocess.Popen[str]:
        if self._process is not None:
            return self._process
        _require_chromadb()
        env = dict(os.environ)
        env["ANONYMIZED_TELEMETRY"] = "False"
        with open(self._stderr_path, "w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
        self._process = process
        self._reader = threading.Thread(
            target=self._read_replies, args=(process,), name="snapshot-replies", daemon=True
        )
        self._reader.start()
        log.info("started snapshot worker (pid %d)", process.pid)
        return process

    def _read_replies(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                reply = json.loads(line)
            except ValueError:
                log.warning("snapshot worker wrote a line that is not JSON: %.200s", line)
                continue
            with self._changed:
                self._results[str(reply.get("name"))] = reply
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _stderr_tail(self) -> str:
        try:
            with open(self._stderr_path) as handle:
                tail = handle.read()[-1500:].strip()
        except OSError:
            return ""
        return f"; its stderr ends with: {tail}" if tail else ""


def _require_chromadb() -> None:
    import importlib.util

    if importlib.util.find_spec("chromadb") is None:
        raise SandboxError(
            "the sandbox builds ChromaDB snapshots, but chromadb is not installed",
            hint="Install the sandbox extra: pip install 'sfn-forensics[sandbox]'.",
        )


def _worker_main() -> int:
    """Build the snapshots of the jobs read from stdin, one JSON result per line on stdout."""
    try:
        for line in sys.stdin:
            job = json.loads(line)
            spec = SnapshotSpec(
                execution_name=job["execution_name"],
                database=job["database"],
                batches=tuple((str(batch_id), int(count)) for batch_id, count in job["batches"]),
            )
            try:
                built = build_snapshot(spec, job["directory"])
            except Exception as error:
                reply: dict[str, Any] = {"name": job["name"], "ok": False, "error": repr(error)}
            else:
                reply = {"name": job["name"], "ok": True, "built": dataclasses.asdict(built)}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker_main())
