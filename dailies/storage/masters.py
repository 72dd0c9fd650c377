"""The masters bucket: Object-Locked server-side copies (single or multipart), retention.
The bytes copied must be the bytes hashed: every copy is guarded by the source's ETag."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from dailies.copy_plan import PartRange, parts_still_to_copy
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


def abort_stale_uploads(s3: Any, bucket: str, key: str, keep: str | None = None) -> int:
    """Abort the multipart uploads left for this key (but `keep`); return how many."""
    aborted = 0
    for upload in _uploads(s3, bucket, key):
        if upload["UploadId"] != keep:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
            aborted += 1
    return aborted


def _uploads(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    """The key's unfinished multipart uploads, oldest first."""
    paginator = s3.get_paginator("list_multipart_uploads")
    pages = paginator.paginate(Bucket=bucket, Prefix=key)
    found = [u for page in pages for u in page.get("Uploads", []) if u["Key"] == key]
    return sorted(found, key=lambda u: u["Initiated"])


def _held_parts(s3: Any, dest: LockedCopy, upload_id: str) -> dict[int, dict[str, Any]]:
    paginator = s3.get_paginator("list_parts")
    pages = paginator.paginate(Bucket=dest.bucket, Key=dest.key, UploadId=upload_id)
    return {p["PartNumber"]: p for page in pages for p in page.get("Parts", [])}


def open_upload(s3: Any, dest: LockedCopy) -> tuple[str, dict[int, dict[str, Any]]]:
    """The upload to copy into and the parts it already holds. An upload an earlier run left
    for this key (killed, or out of retries on timeouts) is resumed, not started afresh: at
    hundreds of GB a restart copies again what was copied, and the store keeps an aborted
    upload's bytes until its garbage collection runs (RGW filled its disk so on a 20 GiB
    master). Its parts are right whoever copied them: the key is the sha256, and every part
    was copied under CopySourceIfMatch from an object hashed to that sha256."""
    uploads = _uploads(s3, dest.bucket, dest.key)
    if uploads:
        upload_id = str(uploads[-1]["UploadId"])
        abort_stale_uploads(s3, dest.bucket, dest.key, keep=upload_id)
        return upload_id, _held_parts(s3, dest, upload_id)
    created = s3.create_multipart_upload(
        Bucket=dest.bucket,
        Key=dest.key,
        Metadata=dest.metadata,
        ObjectLockMode=dest.retention_mode,
        ObjectLockRetainUntilDate=dest.retain_until,
    )
    return str(created["UploadId"]), {}


def copy_multipart(
    s3: Any,
    src_bucket: str,
    src_key: str,
    src_etag: str,
    dest: LockedCopy,
    plan: list[PartRange],
    concurrency: int,
) -> tuple[str, int]:
    """UploadPartCopy of `plan`'s parts (`plan_copy_parts`) in parallel into a new or resumed
    upload (`open_upload`); the new version's id and how many parts the upload already held.
    A refusal aborts the upload, leaving nothing; a store that did not answer in time (a
    timeout, a dropped connection) leaves it for the retry to resume."""
    upload_id, held = open_upload(s3, dest)
    to_copy = parts_still_to_copy(plan, {n: int(p["Size"]) for n, p in held.items()})

    def copy_part(part: Any) -> tuple[int, str]:
        result = s3.upload_part_copy(
            Bucket=dest.bucket,
            Key=dest.key,
            UploadId=upload_id,
            PartNumber=part.part_number,
            CopySource={"Bucket": src_bucket, "Key": src_key},
            CopySourceIfMatch=src_etag,
            CopySourceRange=part.copy_source_range,
        )
        return part.part_number, str(result["CopyPartResult"]["ETag"])

    try:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(to_copy) or 1)) as pool:
            etags = {n: str(p["ETag"]) for n, p in held.items()}
            etags.update(pool.map(copy_part, to_copy))
        response = s3.complete_multipart_upload(
            Bucket=dest.bucket,
            Key=dest.key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": p.part_number, "ETag": etags[p.part_number]} for p in plan
                ]  # fmt: skip
            },
        )
    except (BotoConnectionError, HTTPClientError):
        raise  # the store did not answer: what it holds is kept for the retry
    except ClientError as exc:
        s3.abort_multipart_upload(Bucket=dest.bucket, Key=dest.key, UploadId=upload_id)
        raise _source_changed(exc, src_bucket, src_key) from exc
    except BaseException:
        s3.abort_multipart_upload(Bucket=dest.bucket, Key=dest.key, UploadId=upload_id)
        raise
    return str(response.get("VersionId") or ""), len(plan) - len(to_copy)


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
