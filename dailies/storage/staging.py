"""The staging bucket: what editors upload through presigned multipart URLs."""

from __future__ import annotations

from typing import Any

from dailies.errors import StagingObjectMissing
from dailies.storage.objects import head


def head_staging(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    found = head(s3, bucket, key)
    if found is None:
        raise StagingObjectMissing(f"no object at s3://{bucket}/{key}; upload it first")
    return found


DECLARED_SIZE = "declared-size"  # object metadata: the size the editor said they would send


def start_multipart(s3: Any, bucket: str, key: str, content_type: str, declared_size: int) -> str:
    """Open a multipart upload; return S3's upload id."""
    response = s3.create_multipart_upload(
        Bucket=bucket,
        Key=key,
        ContentType=content_type,
        Metadata={DECLARED_SIZE: str(declared_size)},
    )
    return str(response["UploadId"])


def presign_part(
    s3: Any, bucket: str, key: str, upload_id: str, part_number: int, expires_s: int
) -> str:
    """A URL that can PUT exactly this part of this upload of this key, until it expires."""
    params = {"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number}
    return str(s3.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_s))


def find_multipart(s3: Any, bucket: str, key: str) -> str | None:
    """The S3 upload in progress for this key (our keys are unique per upload id)."""
    listing = s3.list_multipart_uploads(Bucket=bucket, Prefix=key)
    for upload in listing.get("Uploads", []):
        if upload["Key"] == key:
            return str(upload["UploadId"])
    return None


def complete_multipart(
    s3: Any, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]
) -> None:
    """Assemble (part number, ETag) pairs, in part-number order."""
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in sorted(parts)]},
    )


def abort_multipart(s3: Any, bucket: str, key: str, upload_id: str) -> None:
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def delete_object(s3: Any, bucket: str, key: str) -> None:
    s3.delete_object(Bucket=bucket, Key=key)


def declared_size(head_response: dict[str, Any]) -> str | None:
    return (head_response.get("Metadata") or {}).get(DECLARED_SIZE)
