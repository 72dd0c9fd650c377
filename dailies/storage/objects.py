"""Bucket-agnostic S3 calls: HEAD, streaming reads, tags, bucket creation, error codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_missing(exc: ClientError) -> bool:
    return error_code(exc) in _MISSING_CODES


def ensure_bucket(s3: Any, bucket: str, *, object_lock: bool = False) -> bool:
    """Create the bucket if absent; return True when it was created."""
    try:
        s3.head_bucket(Bucket=bucket)
        created = False
    except ClientError as exc:
        if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
        kwargs: dict[str, Any] = {"Bucket": bucket}
        region = s3.meta.region_name
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        if object_lock:
            # Object Lock can only be switched on at creation; it implies versioning.
            kwargs["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**kwargs)
        created = True
    if object_lock:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return created


def head(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        return dict(s3.head_object(**kwargs))
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise


def iter_object(
    s3: Any, bucket: str, key: str, chunk_bytes: int, if_match: str | None = None
) -> Iterator[bytes]:
    """Stream an object's bytes in large chunks, one GET, nothing on disk."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if if_match:
        kwargs["IfMatch"] = if_match
    body = s3.get_object(**kwargs)["Body"]
    try:
        yield from body.iter_chunks(chunk_bytes)
    finally:
        body.close()


def tag_object(s3: Any, bucket: str, key: str, tags: dict[str, str]) -> None:
    s3.put_object_tagging(
        Bucket=bucket,
        Key=key,
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
    )


def object_tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    tagset = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tagset}
