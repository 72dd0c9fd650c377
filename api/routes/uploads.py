"""Presigned multipart uploads into staging: start, more part URLs, complete, abort.

The API never touches the bytes: clients PUT each part straight to S3 with a presigned
URL that can address only its own key, part and upload. Each upload has an owner (the
token that started it): only the owner, or an admin, may act on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, Path, Query, Response

from api.auth import Editor, Principal
from api.deps import S3Dep, SettingsDep
from api.json_body import StrictJsonRoute
from api.schemas import (
    AUTH_ERRORS,
    PartsBody,
    PartsPageOut,
    PartUrlOut,
    UploadCompleteBody,
    UploadCompletedOut,
    UploadCreateBody,
    UploadStartedOut,
    error_responses,
)
from dailies import upload_rules
from dailies.clients import session_scope
from dailies.db import uploads
from dailies.db.models import Upload
from dailies.db.uploads import UploadState
from dailies.errors import Forbidden, InvalidRequest, UploadNotFound, UploadTooLarge
from dailies.settings import Settings
from dailies.storage import staging
from dailies.storage.objects import error_code, head

router = APIRouter(prefix="/api/uploads", tags=["uploads"], route_class=StrictJsonRoute)

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
    response_model=UploadStartedOut,
    responses=error_responses(413, *AUTH_ERRORS),
)
def start_upload(
    body: UploadCreateBody, editor: Editor, s3: S3Dep, settings: SettingsDep
) -> UploadStartedOut:
    """Start a multipart upload under uploads/{upload_id}/{filename}, owned by the caller;
    presign the first page of parts (POST /api/uploads/{upload_id}/parts for the rest)."""
    filename = upload_rules.sanitize_filename(body.filename)
    content_type = upload_rules.validate_content_type(body.content_type)
    part_size = upload_rules.plan_part_size(
        body.size_bytes, settings.upload_part_bytes, settings.max_upload_bytes
    )
    upload_id = upload_rules.new_upload_id()
    key = upload_rules.staging_key_for(upload_id, filename)
    count = upload_rules.part_count(body.size_bytes, part_size)
    s3_upload = staging.start_multipart(
        s3, settings.staging_bucket, key, content_type, body.size_bytes
    )
    with session_scope(settings) as db:  # committed before the answer: complete may follow
        uploads.open_upload(db, upload_id, key, editor.key_id, body.size_bytes, part_size, count)
    page = _presign(s3, settings, key, s3_upload, count, first=1)
    return UploadStartedOut(
        upload_id=upload_id,
        key=key,
        part_size=part_size,
        part_count=count,
        parts=page.parts,
        next_part_number=page.next_part_number,
        expires_at=page.expires_at,
    )


@router.post(
    "/{upload_id}/parts",
    response_model=PartsPageOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def more_parts(
    upload_id: UploadId,
    body: PartsBody,
    editor: Editor,
    s3: S3Dep,
    settings: SettingsDep,
) -> PartsPageOut:
    """The next page of presigned part URLs, from part number `first`."""
    upload = _owned(settings, upload_id, body.key, editor)
    if upload.state != UploadState.OPEN:
        raise UploadNotFound(f"upload {upload_id} is {upload.state}: no more parts")
    s3_upload = staging.find_multipart(s3, settings.staging_bucket, upload.key)
    if s3_upload is None:
        raise UploadNotFound(f"no upload in progress for {upload.key}")
    return _presign(s3, settings, upload.key, s3_upload, upload.part_count, body.first)


def _presign(
    s3: Any, settings: Settings, key: str, s3_upload: str, count: int, first: int
) -> PartsPageOut:
    numbers = upload_rules.part_page(count, first, settings.upload_parts_page)
    expiry = settings.upload_url_expiry_s
    parts = [
        PartUrlOut(
            part_number=number,
            url=staging.presign_part(s3, settings.staging_bucket, key, s3_upload, number, expiry),
        )
        for number in numbers
    ]
    following = numbers.stop if numbers.stop <= count else None
    return PartsPageOut(
        parts=parts,
        next_part_number=following,
        expires_at=datetime.now(UTC) + timedelta(seconds=expiry),
    )


def _owned(settings: Settings, upload_id: str, key: str, principal: Principal) -> Upload:
    """The upload this API started under that id and key, if the caller may act on it."""
    key = upload_rules.check_upload_key(upload_id, key)
    with session_scope(settings) as db:
        upload = uploads.get_upload(db, upload_id)
    if upload is None or upload.key != key:
        raise UploadNotFound(f"no upload {upload_id} for {key}: start one with POST /api/uploads")
    if not upload_rules.may_act_on(upload.owner_key_id, principal.key_id, principal.role):
        raise Forbidden("this upload belongs to another editor")
    return upload


@router.post(
    "/{upload_id}/complete",
    response_model=UploadCompletedOut,
    responses=error_responses(404, 413, *AUTH_ERRORS),
)
def complete_upload(
    upload_id: UploadId,
    body: UploadCompleteBody,
    editor: Editor,
    s3: S3Dep,
    settings: SettingsDep,
) -> UploadCompletedOut:
    """Assemble the parts; the object must have exactly the declared size."""
    upload = _owned(settings, upload_id, body.key, editor)
    if upload.state == UploadState.ABORTED:
        raise UploadNotFound(f"upload {upload_id} was aborted")
    key, bucket = upload.key, settings.staging_bucket
    numbers = [p.part_number for p in body.parts]
    if len(set(numbers)) != len(numbers):
        raise InvalidRequest("each part_number may appear once")
    s3_upload = staging.find_multipart(s3, bucket, key)
    if s3_upload is None:
        # Completing twice (a retry after a lost answer) finds the object already there.
        done = head(s3, bucket, key)
        if done is None:
            raise UploadNotFound(f"no upload in progress for {key}")
        _set_state(settings, upload_id, UploadState.COMPLETED)
        return UploadCompletedOut(key=key, size_bytes=int(done["ContentLength"]))
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
    _set_state(settings, upload_id, UploadState.COMPLETED)
    return UploadCompletedOut(key=key, size_bytes=size)


@router.delete(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, *AUTH_ERRORS),
)
def abort_upload(
    upload_id: UploadId,
    key: Annotated[str, Query(min_length=1, max_length=1024)],
    editor: Editor,
    s3: S3Dep,
    settings: SettingsDep,
) -> Response:
    """Abort an upload in progress; S3 drops the parts already sent."""
    key = _owned(settings, upload_id, key, editor).key
    s3_upload = staging.find_multipart(s3, settings.staging_bucket, key)
    if s3_upload is None:
        raise UploadNotFound(f"no upload in progress for {key}")
    try:
        staging.abort_multipart(s3, settings.staging_bucket, key, s3_upload)
    except ClientError as exc:
        if error_code(exc) != "NoSuchUpload":
            raise
        raise UploadNotFound(f"no upload in progress for {key}") from exc
    _set_state(settings, upload_id, UploadState.ABORTED)
    return Response(status_code=204)


def _set_state(settings: Settings, upload_id: str, state: UploadState) -> None:
    with session_scope(settings) as db:
        uploads.set_state(db, upload_id, state)
