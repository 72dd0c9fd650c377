"""Presigned multipart uploads into staging: start, complete, abort.

The API never touches the bytes: clients PUT each part straight to S3 with a presigned
URL that can address only its own key, part and upload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

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
from dailies import upload_rules
from dailies.errors import InvalidRequest, UploadNotFound, UploadTooLarge
from dailies.storage import staging
from dailies.storage.objects import error_code, head

router = APIRouter(prefix="/api/uploads", tags=["uploads"])

UploadId = Annotated[str, Path(min_length=1, max_length=64)]
# S3's answers to a bad completion request: the client's mistake, not ours.
_BAD_COMPLETION = {
    "InvalidPart",
    "InvalidPartOrder",
    "EntityTooSmall",
    "MalformedXML",
    "InvalidArgument",
    "InvalidRequest",
}


@router.post(
    "",
    status_code=201,
    response_model=UploadStarted,
    responses=error_responses(413, *AUTH_ERRORS),
)
def start_upload(body: UploadCreate, _: Editor, s3: S3Dep, settings: SettingsDep) -> UploadStarted:
    """Start a multipart upload under uploads/{upload_id}/{filename}; presign every part."""
    filename = upload_rules.sanitize_filename(body.filename)
    content_type = upload_rules.validate_content_type(body.content_type)
    part_size = upload_rules.plan_part_size(
        body.size_bytes, settings.upload_part_bytes, settings.max_upload_bytes
    )
    upload_id = upload_rules.new_upload_id()
    key = upload_rules.staging_key_for(upload_id, filename)
    bucket, expiry = settings.staging_bucket, settings.upload_url_expiry_s
    s3_upload = staging.start_multipart(s3, bucket, key, content_type, body.size_bytes)
    parts = [
        PartUrl(
            part_number=number,
            url=staging.presign_part(s3, bucket, key, s3_upload, number, expiry),
        )
        for number in range(1, upload_rules.part_count(body.size_bytes, part_size) + 1)
    ]
    return UploadStarted(
        upload_id=upload_id,
        key=key,
        part_size=part_size,
        parts=parts,
        expires_at=datetime.now(UTC) + timedelta(seconds=expiry),
    )


@router.post(
    "/{upload_id}/complete",
    response_model=UploadCompleted,
    responses=error_responses(404, 413, *AUTH_ERRORS),
)
def complete_upload(
    upload_id: UploadId, body: UploadComplete, _: Editor, s3: S3Dep, settings: SettingsDep
) -> UploadCompleted:
    """Assemble the parts; the object must have exactly the declared size."""
    key = upload_rules.check_upload_key(upload_id, body.key)
    bucket = settings.staging_bucket
    numbers = [p.part_number for p in body.parts]
    if len(set(numbers)) != len(numbers):
        raise InvalidRequest("each part_number may appear once")
    s3_upload = staging.find_multipart(s3, bucket, key)
    if s3_upload is None:
        # Completing twice (a retry after a lost answer) finds the object already there.
        done = head(s3, bucket, key)
        if done is None:
            raise UploadNotFound(f"no upload in progress for {key}")
        return UploadCompleted(key=key, size_bytes=int(done["ContentLength"]))
    parts = [(p.part_number, p.etag) for p in body.parts]
    try:
        staging.complete_multipart(s3, bucket, key, s3_upload, parts)
    except ClientError as exc:
        if error_code(exc) == "NoSuchUpload":
            raise UploadNotFound(f"no upload in progress for {key}") from exc
        if error_code(exc) in _BAD_COMPLETION:
            raise InvalidRequest(f"S3 refused the parts: {error_code(exc)}") from exc
        raise
    completed = head(s3, bucket, key) or {}
    size = int(completed.get("ContentLength", -1))
    declared = staging.declared_size(completed)
    if size > settings.max_upload_bytes or (declared is not None and str(size) != declared):
        # Presigned PUTs cannot cap their own length: refuse the result instead.
        staging.delete_object(s3, bucket, key)
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
    key = upload_rules.check_upload_key(upload_id, key)
    s3_upload = staging.find_multipart(s3, settings.staging_bucket, key)
    if s3_upload is None:
        raise UploadNotFound(f"no upload in progress for {key}")
    try:
        staging.abort_multipart(s3, settings.staging_bucket, key, s3_upload)
    except ClientError as exc:
        if error_code(exc) != "NoSuchUpload":
            raise
        raise UploadNotFound(f"no upload in progress for {key}") from exc
    return Response(status_code=204)
