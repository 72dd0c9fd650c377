"""Presigned multipart uploads into staging: start, complete, abort.

The API never touches the bytes: clients PUT each part straight to S3 with a presigned
URL that can address only its own key, part and upload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, Path, Query, Response

from api.auth import Editor
from api.deps import S3Dep, SettingsDep
from api.schemas import (
    AUTH_ERRORS,
    PartUrl,
    UploadComplete,
    UploadCompleted,
    UploadCreate,
    UploadStarted,
    error_responses,
)
from dailies import storage, uploads
from dailies.errors import InvalidRequest, UploadNotFound, UploadTooLarge

router = APIRouter(prefix="/api/uploads", tags=["uploads"])

UploadId = Annotated[str, Path(min_length=1, max_length=64)]
DECLARED_SIZE = "declared-size"
# S3's answers to a bad completion request: the client's mistake, not ours.
_BAD_COMPLETION = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"}


@router.post(
    "",
    status_code=201,
    response_model=UploadStarted,
    responses=error_responses(413, *AUTH_ERRORS),
)
def start_upload(body: UploadCreate, _: Editor, s3: S3Dep, settings: SettingsDep) -> UploadStarted:
    """Start a multipart upload under uploads/{upload_id}/{filename}; presign every part."""
    filename = uploads.sanitize_filename(body.filename)
    content_type = uploads.validate_content_type(body.content_type)
    part_size = uploads.plan_part_size(
        body.size_bytes, settings.upload_part_bytes, settings.max_upload_bytes
    )
    upload_id = uploads.new_upload_id()
    key = uploads.staging_key_for(upload_id, filename)
    s3_upload = s3.create_multipart_upload(
        Bucket=settings.staging_bucket,
        Key=key,
        ContentType=content_type,
        Metadata={DECLARED_SIZE: str(body.size_bytes)},
    )["UploadId"]
    expiry = settings.upload_url_expiry_s
    parts = [
        PartUrl(
            part_number=number,
            url=s3.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": settings.staging_bucket,
                    "Key": key,
                    "UploadId": s3_upload,
                    "PartNumber": number,
                },
                ExpiresIn=expiry,
            ),
        )
        for number in range(1, uploads.part_count(body.size_bytes, part_size) + 1)
    ]
    return UploadStarted(
        upload_id=upload_id,
        key=key,
        part_size=part_size,
        parts=parts,
        expires_at=datetime.now(UTC) + timedelta(seconds=expiry),
    )


def _s3_upload_id(s3: Any, bucket: str, key: str) -> str | None:
    """The S3 upload in progress for this key (our keys are unique per upload id)."""
    listing = s3.list_multipart_uploads(Bucket=bucket, Prefix=key)
    for upload in listing.get("Uploads", []):
        if upload["Key"] == key:
            return str(upload["UploadId"])
    return None


@router.post(
    "/{upload_id}/complete",
    response_model=UploadCompleted,
    responses=error_responses(404, 413, *AUTH_ERRORS),
)
def complete_upload(
    upload_id: UploadId, body: UploadComplete, _: Editor, s3: S3Dep, settings: SettingsDep
) -> UploadCompleted:
    """Assemble the parts; the object must have exactly the declared size."""
    key = uploads.check_upload_key(upload_id, body.key)
    bucket = settings.staging_bucket
    numbers = [p.part_number for p in body.parts]
    if len(set(numbers)) != len(numbers):
        raise InvalidRequest("each part_number may appear once")
    s3_upload = _s3_upload_id(s3, bucket, key)
    if s3_upload is None:
        # Completing twice (a retry after a lost answer) finds the object already there.
        done = storage.head(s3, bucket, key)
        if done is None:
            raise UploadNotFound(f"no upload in progress for {key}")
        return UploadCompleted(key=key, size_bytes=int(done["ContentLength"]))
    parts = sorted(body.parts, key=lambda p: p.part_number)
    try:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=s3_upload,
            MultipartUpload={
                "Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in parts]
            },
        )
    except ClientError as exc:
        if storage.error_code(exc) == "NoSuchUpload":
            raise UploadNotFound(f"no upload in progress for {key}") from exc
        if storage.error_code(exc) in _BAD_COMPLETION:
            raise InvalidRequest(f"S3 refused the parts: {storage.error_code(exc)}") from exc
        raise
    head = storage.head(s3, bucket, key) or {}
    size = int(head.get("ContentLength", -1))
    declared = (head.get("Metadata") or {}).get(DECLARED_SIZE)
    if size > settings.max_upload_bytes or (declared is not None and str(size) != declared):
        # Presigned PUTs cannot cap their own length: refuse the result instead.
        s3.delete_object(Bucket=bucket, Key=key)
        error = UploadTooLarge if size > settings.max_upload_bytes else InvalidRequest
        raise error(f"uploaded {size} bytes but declared {declared}; the object was removed")
    return UploadCompleted(key=key, size_bytes=size)


@router.delete(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, *AUTH_ERRORS),
)
def abort_upload(
    upload_id: UploadId,
    key: Annotated[str, Query(min_length=1, max_length=1024)],
    _: Editor,
    s3: S3Dep,
    settings: SettingsDep,
) -> Response:
    """Abort an upload in progress; S3 drops the parts already sent."""
    key = uploads.check_upload_key(upload_id, key)
    s3_upload = _s3_upload_id(s3, settings.staging_bucket, key)
    if s3_upload is None:
        raise UploadNotFound(f"no upload in progress for {key}")
    try:
        s3.abort_multipart_upload(Bucket=settings.staging_bucket, Key=key, UploadId=s3_upload)
    except ClientError as exc:
        if storage.error_code(exc) != "NoSuchUpload":
            raise
        raise UploadNotFound(f"no upload in progress for {key}") from exc
    return Response(status_code=204)
