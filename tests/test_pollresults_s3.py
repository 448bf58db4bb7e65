"""poll_results.json read from the local moto S3 server over HTTP."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sfn_forensics.aws.s3_reads import (
    ObjectTooLargeError,
    head_object,
    list_prefix,
    open_object,
    read_text,
)
from sfn_forensics.pollresults import iter_poll_results, summarize
from sfn_forensics.sandbox.server import MotoServer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.sandbox

EXECUTION_NAME = "ingest-words-2025-01-01T12-00-00"
POLL_RESULTS_KEY = f"poll_results/{EXECUTION_NAME}/poll_results.json"


@pytest.fixture
def s3(moto_server: MotoServer) -> S3Client:
    return boto3.client("s3", endpoint_url=moto_server.endpoint_url, region_name="us-east-1")


@pytest.fixture
def bucket(s3: S3Client) -> str:
    name = f"poll-results-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def poll_entries(count: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for index in range(count):
        if index % 3 == 0:
            entries.append(
                {
                    "batch_id": f"batch-{index:04d}",
                    "openai_batch_id": f"batch_{index:024x}",
                    "batch_status": "completed",
                    "action": "process_results",
                    "results_count": 25,
                    "delta_id": f"delta-{index:04d}",
                    "delta_key": f"words/delta/delta-{index:04d}/",
                    "embedding_count": 25,
                }
            )
        else:
            entries.append(
                {
                    "batch_id": f"batch-{index:04d}",
                    "openai_batch_id": f"batch_{index:024x}",
                    "batch_status": "in_progress",
                    "action": "wait",
                }
            )
    return entries


def test_s3_poll_results_streamed(s3: S3Client, bucket: str) -> None:
    entries = poll_entries(3000)
    body = json.dumps(entries, indent=2).encode()
    s3.put_object(Bucket=bucket, Key=POLL_RESULTS_KEY, Body=body)

    stream, fields = open_object(s3, bucket, POLL_RESULTS_KEY)
    try:
        summary = summarize(iter_poll_results(stream, chunk_size=4096))
    finally:
        stream.close()

    assert fields["ContentLength"] == len(body)
    assert summary.entries == 3000
    assert summary.by_action == {"process_results": 1000, "wait": 2000}
    assert summary.embedding_count == 25_000


def test_s3_head_object_fields(s3: S3Client, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=POLL_RESULTS_KEY,
        Body=b"[]",
        Metadata={"Execution-Name": EXECUTION_NAME},
    )
    fields = head_object(s3, bucket, POLL_RESULTS_KEY)
    assert fields["ContentLength"] == 2
    assert fields["Metadata"] == {"execution-name": EXECUTION_NAME}
    assert fields["ETag"].startswith('"')
    assert fields["LastModified"] is not None
    assert "ResponseMetadata" not in fields


def test_s3_head_object_without_metadata(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key=POLL_RESULTS_KEY, Body=b"[]")
    assert head_object(s3, bucket, POLL_RESULTS_KEY)["Metadata"] == {}


def test_s3_missing_object_raises_client_error(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        open_object(s3, bucket, POLL_RESULTS_KEY)
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"


def test_s3_list_prefix_pages(s3: S3Client, bucket: str) -> None:
    keys = [f"poll_results/run-{index}/poll_results.json" for index in range(7)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"[]")
    s3.put_object(Bucket=bucket, Key="other/poll_results.json", Body=b"[]")

    listed = list_prefix(s3, bucket, "poll_results/", page_size=2)

    assert [entry["Key"] for entry in listed] == sorted(keys)
    assert {entry["Size"] for entry in listed} == {2}
    assert set(listed[0]) == {"Key", "Size", "ETag", "LastModified"}


def test_s3_list_prefix_empty(s3: S3Client, bucket: str) -> None:
    assert list_prefix(s3, bucket, "poll_results/none/") == []


def test_s3_read_text(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="words/snapshot/latest-pointer.txt", Body=b"20250101_120000\n")
    text = read_text(s3, bucket, "words/snapshot/latest-pointer.txt")
    assert text == "20250101_120000\n"


def test_s3_read_text_at_limit(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="small.txt", Body=b"x" * 16)
    assert read_text(s3, bucket, "small.txt", max_bytes=16) == "x" * 16


def test_s3_read_text_over_limit(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="big.txt", Body=b"x" * 17)
    with pytest.raises(ObjectTooLargeError) as caught:
        read_text(s3, bucket, "big.txt", max_bytes=16)
    assert caught.value.size == 17
    assert "16-byte limit" in str(caught.value)


def test_s3_read_text_invalid_utf8(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="bad.txt", Body=b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        read_text(s3, bucket, "bad.txt")
