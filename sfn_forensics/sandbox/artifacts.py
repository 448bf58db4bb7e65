"""poll_results.json: what the normalize Lambda writes, rebuilt from the execution's history.

NormalizePollBatchesData receives the poll Map's results as its input. It writes one entry per
polled batch and skips a completed batch whose `result_s3_key` is not an S3 key of the vectors
bucket (an `s3://` URI, for example), logging a WARNING for it. The sandbox applies the same
rule to the input recorded in the history, so the file, the log lines and the history agree.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfn_forensics.errors import SandboxError
from sfn_forensics.sandbox.invocations import ExecutionRecord
from sfn_forensics.sandbox.workflows import FUNCTION_NORMALIZE_POLL_RESULTS

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)

ACTION_PROCESS_RESULTS = "process_results"
ACTION_WAIT = "wait"


@dataclass(frozen=True)
class NormalizedPollResults:
    """The entries of poll_results.json and the poll results the normalize Lambda skipped."""

    bucket: str
    key: str
    entries: tuple[dict[str, Any], ...]
    skipped: tuple[dict[str, Any], ...]

    @property
    def embedding_count(self) -> int:
        """Sum of embedding_count over the processed entries."""
        return sum(
            int(entry["embedding_count"])
            for entry in self.entries
            if entry["action"] == ACTION_PROCESS_RESULTS
        )


def is_valid_delta_key(value: Any) -> bool:
    """Return True for a key such as `words/delta/<id>/`; URIs and empty values are invalid."""
    return isinstance(value, str) and bool(value) and "://" not in value


def normalize_poll_results(poll_results: Sequence[Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """Return (entries, skipped results) for the poll results the normalize Lambda received."""
    entries: list[dict[str, Any]] = []
    skipped: list[Any] = []
    for result in poll_results:
        if not isinstance(result, dict):
            skipped.append(result)
            continue
        entry: dict[str, Any] = {
            "batch_id": result.get("batch_id"),
            "openai_batch_id": result.get("openai_batch_id"),
            "batch_status": result.get("batch_status"),
        }
        if result.get("batch_status") != "completed":
            entry["action"] = ACTION_WAIT
            entries.append(entry)
            continue
        delta_key = result.get("result_s3_key")
        if not is_valid_delta_key(delta_key):
            skipped.append(result)
            continue
        embedding_count = int(result.get("embedding_count") or 0)
        entry.update(
            {
                "action": ACTION_PROCESS_RESULTS,
                # The pipeline embeds one input per request line of the OpenAI batch output.
                "results_count": embedding_count,
                "delta_id": str(delta_key).rstrip("/").rsplit("/", 1)[-1],
                "delta_key": delta_key,
                "embedding_count": embedding_count,
            }
        )
        entries.append(entry)
    return entries, skipped


def poll_results_from_history(record: ExecutionRecord) -> NormalizedPollResults | None:
    """Rebuild poll_results.json from the normalize invocation; None when it never ran."""
    invocations = [
        item for item in record.of_function(FUNCTION_NORMALIZE_POLL_RESULTS) if item.succeeded
    ]
    if not invocations:
        return None
    invocation = invocations[-1]
    received = invocation.input if isinstance(invocation.input, dict) else {}
    output = invocation.output if isinstance(invocation.output, dict) else {}
    bucket = output.get("poll_results_s3_bucket")
    key = output.get("poll_results_s3_key")
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise SandboxError(
            f"execution {record.execution_name}: the normalize Lambda returned no "
            "poll_results_s3_bucket/poll_results_s3_key"
        )
    entries, skipped = normalize_poll_results(received.get("poll_results") or [])
    return NormalizedPollResults(
        bucket=bucket, key=key, entries=tuple(entries), skipped=tuple(skipped)
    )


def write_poll_results(s3: S3Client, results: NormalizedPollResults) -> int:
    """Put poll_results.json and return its size in bytes."""
    body = json.dumps(list(results.entries), indent=1).encode()
    s3.put_object(Bucket=results.bucket, Key=results.key, Body=body, ContentType="application/json")
    log.info(
        "wrote s3://%s/%s: %d entries, %d skipped, %d embeddings",
        results.bucket,
        results.key,
        len(results.entries),
        len(results.skipped),
        results.embedding_count,
    )
    return len(body)
