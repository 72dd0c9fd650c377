"""The masters bucket: Object-Locked server-side copies (single or multipart), retention.
The bytes copied must be the bytes hashed: every copy is guarded by the source's ETag."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from dailies.copy_plan import plan_copy_parts
from dailies.errors import StagingObjectChanged
from dailies.storage.objects import error_code
from dailies.storage.staging import head_staging


def _staging_changed(bucket: str, key: str) -> StagingObjectChanged:
    return StagingObjectChanged(
        f"s3://{bucket}/{key} changed after it was hashed (its ETag no longer matches); "
        "nothing was promoted: promote it again to hash the new content"
    )


def _source_changed(exc: ClientError, bucket: str, key: str) -> Exception:
    if error_code(exc) in {"PreconditionFailed", "412"}:
        return _staging_changed(bucket, key)
    return exc


def ensure_unchanged(s3: Any, bucket: str, key: str, etag: str) -> None:
    """Refuse to copy a staged object that is no longer the one hashed. S3 also enforces this
    atomically through CopySourceIfMatch; stores that ignore that header (moto) rely on this."""
    if head_staging(s3, bucket, key).get("ETag") != etag:
        raise _staging_changed(bucket, key)


def masters_key_for(sha256: str) -> str:
    """Masters are content-addressed: the key is the sha256 itself."""
    return sha256


@dataclass(frozen=True)
class LockedCopy:
    """Where a copy went and which retention we asked for."""

    bucket: str
    key: str
    metadata: dict[str, str]
    retention_mode: str
    retain_until: datetime


def copy_single(s3: Any, src_bucket: str, src_key: str, src_etag: str, dest: LockedCopy) -> str:
    """Server-side CopyObject with Object Lock; atomic: the object appears whole or not at all."""
    kwargs: dict[str, Any] = {
        "Bucket": dest.bucket,
        "Key": dest.key,
        "CopySource": {"Bucket": src_bucket, "Key": src_key},
        # The bytes we hashed are the bytes we copy, or the copy fails (412).
        "CopySourceIfMatch": src_etag,
        "MetadataDirective": "REPLACE",
        "Metadata": dest.metadata,
        "ChecksumAlgorithm": "SHA256",
    }
    lock = {
        "ObjectLockMode": dest.retention_mode,
        "ObjectLockRetainUntilDate": dest.retain_until,
    }
    try:
        try:
            response = s3.copy_object(**kwargs, **lock)
        except ClientError as exc:
            # moto demands a body checksum header on CopyObject with lock headers, which S3
            # does not; copy plainly and let the caller apply retention (PutObjectRetention).
            if error_code(exc) != "MissingUploadObjectWithObjectLockHeaders":
                raise
            response = s3.copy_object(**kwargs)
    except ClientError as exc:
        raise _source_changed(exc, src_bucket, src_key) from exc
    return str(response.get("VersionId") or "")


def abort_stale_uploads(s3: Any, bucket: str, key: str) -> int:
    """Abort multipart uploads a killed worker left for this key; return how many."""
    aborted = 0
    paginator = s3.get_paginator("list_multipart_uploads")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        for upload in page.get("Uploads", []):
            if upload["Key"] == key:
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
                aborted += 1
    return aborted


def copy_multipart(
    s3: Any,
    src_bucket: str,
    src_key: str,
    src_etag: str,
    size_bytes: int,
    dest: LockedCopy,
    part_bytes: int,
    concurrency: int,
) -> str:
    """UploadPartCopy in parallel; on any failure the upload is aborted, leaving nothing."""
    upload_id = s3.create_multipart_upload(
        Bucket=dest.bucket,
        Key=dest.key,
        Metadata=dest.metadata,
        ObjectLockMode=dest.retention_mode,
        ObjectLockRetainUntilDate=dest.retain_until,
    )["UploadId"]
    parts = plan_copy_parts(size_bytes, part_bytes)

    def copy_part(part: Any) -> dict[str, Any]:
        result = s3.upload_part_copy(
            Bucket=dest.bucket,
            Key=dest.key,
            UploadId=upload_id,
            PartNumber=part.part_number,
            CopySource={"Bucket": src_bucket, "Key": src_key},
            CopySourceIfMatch=src_etag,
            CopySourceRange=part.copy_source_range,
        )
        return {"PartNumber": part.part_number, "ETag": result["CopyPartResult"]["ETag"]}

    try:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(parts) or 1)) as pool:
            completed = list(pool.map(copy_part, parts))
        response = s3.complete_multipart_upload(
            Bucket=dest.bucket,
            Key=dest.key,
            UploadId=upload_id,
            MultipartUpload={"Parts": completed},
        )
    except ClientError as exc:
        s3.abort_multipart_upload(Bucket=dest.bucket, Key=dest.key, UploadId=upload_id)
        raise _source_changed(exc, src_bucket, src_key) from exc
    except BaseException:
        s3.abort_multipart_upload(Bucket=dest.bucket, Key=dest.key, UploadId=upload_id)
        raise
    return str(response.get("VersionId") or "")


def retention_from_head(head: dict[str, Any]) -> tuple[str, datetime] | None:
    """HEAD reports a version's Object Lock; None when it has none."""
    mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
    if not mode or until is None:
        return None
    return str(mode), until


def put_retention(
    s3: Any, bucket: str, key: str, version_id: str, mode: str, retain_until: datetime
) -> None:
    s3.put_object_retention(
        Bucket=bucket,
        Key=key,
        VersionId=version_id,
        Retention={"Mode": mode, "RetainUntilDate": retain_until},
    )
