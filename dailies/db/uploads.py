"""The uploads table: every multipart upload the API presigned, with its owner and state."""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from dailies.db.models import Upload


class UploadState(enum.StrEnum):
    OPEN = "open"  # presigned; parts may be PUT
    COMPLETED = "completed"  # assembled in staging: may be promoted
    ABORTED = "aborted"


def open_upload(
    session: Session,
    upload_id: str,
    key: str,
    owner_key_id: int,
    declared_size: int,
    part_size: int,
    part_count: int,
) -> Upload:
    upload = Upload(
        upload_id=upload_id,
        key=key,
        owner_key_id=owner_key_id,
        declared_size=declared_size,
        part_size=part_size,
        part_count=part_count,
        state=UploadState.OPEN.value,
    )
    session.add(upload)
    session.flush()
    return upload


def get_upload(session: Session, upload_id: str) -> Upload | None:
    return session.get(Upload, upload_id, populate_existing=True)


def upload_for_key(session: Session, key: str) -> Upload | None:
    return session.scalar(select(Upload).where(Upload.key == key))


def set_state(session: Session, upload_id: str, state: UploadState) -> None:
    upload = session.get(Upload, upload_id, with_for_update=True)
    if upload is not None:
        upload.state = state.value
