"""Read-only S3 calls: GetObject, HeadObject and ListObjectsV2.

These functions let botocore's exceptions (ClientError, BotoCoreError) propagate, so the caller
decides how a failed read is recorded as evidence.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, BinaryIO, cast

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PaginatorConfigTypeDef

log = logging.getLogger(__name__)

DEFAULT_MAX_TEXT_BYTES = 1_048_576

# Response fields kept by open_object and head_object. The rest (ResponseMetadata, checksums,
# server-side encryption) is not evidence this tool uses.
_OBJECT_FIELDS = ("ContentLength", "ContentType", "ETag", "LastModified", "Metadata", "VersionId")


class ObjectTooLargeError(ValueError):
    """An object read as text is larger than the caller's byte limit."""

    def __init__(self, bucket: str, key: str, limit: int, size: int | None) -> None:
        size_text = f"{size} bytes" if size is not None else f"more than {limit} bytes"
        super().__init__(
            f"s3://{bucket}/{key} is {size_text}, over the {limit}-byte limit for text"
        )
        self.bucket = bucket
        self.key = key
        self.limit = limit
        self.size = size


def _object_fields(response: Any) -> dict[str, Any]:
    fields = {name: response[name] for name in _OBJECT_FIELDS if name in response}
    fields.setdefault("Metadata", {})
    return fields


def open_object(client: S3Client, bucket: str, key: str) -> tuple[BinaryIO, dict[str, Any]]:
    """Send GetObject and return the unread body stream with the object's fields.

    The fields are ContentLength, ETag, LastModified and Metadata (user metadata, `{}` when the
    object has none), plus ContentType and VersionId when S3 returns them. The caller must close
    the stream.
    """
    response = client.get_object(Bucket=bucket, Key=key)
    log.debug("opened s3://%s/%s (%s bytes)", bucket, key, response.get("ContentLength"))
    return cast(BinaryIO, response["Body"]), _object_fields(response)


def head_object(client: S3Client, bucket: str, key: str) -> dict[str, Any]:
    """Send HeadObject and return the same fields as `open_object`."""
    response = client.head_object(Bucket=bucket, Key=key)
    return _object_fields(response)


def list_prefix(
    client: S3Client, bucket: str, prefix: str, page_size: int | None = None
) -> list[dict[str, Any]]:
    """List every object under `prefix` through all ListObjectsV2 pages.

    Each entry has Key, Size, ETag (quoted, as S3 returns it) and LastModified, in S3's key order.
    `page_size` sets MaxKeys per request. S3 returns at most 1000 keys per page by default.
    """
    paginator = client.get_paginator("list_objects_v2")
    objects: list[dict[str, Any]] = []
    pages = 0
    pagination: PaginatorConfigTypeDef = {} if page_size is None else {"PageSize": page_size}
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig=pagination):
        pages += 1
        for item in page.get("Contents", []):
            objects.append(
                {
                    "Key": item["Key"],
                    "Size": item.get("Size", 0),
                    "ETag": item.get("ETag"),
                    "LastModified": item.get("LastModified"),
                }
            )
    log.debug("listed %d objects under s3://%s/%s in %d pages", len(objects), bucket, prefix, pages)
    return objects


def read_text(
    client: S3Client, bucket: str, key: str, max_bytes: int = DEFAULT_MAX_TEXT_BYTES
) -> str:
    """Read a small object and decode it as UTF-8.

    Raises ObjectTooLargeError when the object is larger than `max_bytes`, before reading its body
    when S3 reports ContentLength. Invalid UTF-8 raises UnicodeDecodeError.
    """
    body, fields = open_object(client, bucket, key)
    try:
        size = fields.get("ContentLength")
        if isinstance(size, int) and size > max_bytes:
            raise ObjectTooLargeError(bucket, key, max_bytes, size)
        # Reading one byte past the limit distinguishes an object at the limit from a larger one.
        data = body.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ObjectTooLargeError(bucket, key, max_bytes, None)
    finally:
        body.close()
    return data.decode("utf-8")
