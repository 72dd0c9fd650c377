"""Documents attached to assets: editors upload through a presigned PUT into the docs bucket
and complete (the API reads the bytes back for their size and sha256); reviewers list them
and open one through a presigned GET that expires within minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import Editor, Reviewer
from api.deps import DbDep, S3Dep, SettingsDep
from api.json_body import StrictJsonRoute
from api.schemas import (
    AUTH_ERRORS,
    DocumentCreateBody,
    DocumentLinkOut,
    DocumentListOut,
    DocumentOut,
    DocumentUploadOut,
    error_responses,
)
from dailies import document_rules
from dailies.clients import session_scope
from dailies.db import documents, masters
from dailies.db.documents import DocumentState
from dailies.errors import DocumentNotFound, Forbidden, InvalidRequest, UnknownAsset
from dailies.hashing import normalize_sha256
from dailies.storage import docs
from dailies.upload_rules import may_act_on

router = APIRouter(tags=["documents"], route_class=StrictJsonRoute)

AssetId = Annotated[str, Path(min_length=1, max_length=255)]
DocumentId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    "/api/assets/{asset_id}/documents",
    status_code=201,
    response_model=DocumentUploadOut,
    responses=error_responses(404, 413, *AUTH_ERRORS),
)
def attach_document(
    asset_id: AssetId, body: DocumentCreateBody, editor: Editor, s3: S3Dep, settings: SettingsDep
) -> DocumentUploadOut:
    """Start attaching a document: a pending row and a PUT URL for exactly its key. Only the
    asset's owner (the key whose promotion linked it) or an admin attaches."""
    request = document_rules.validate_document(
        body.filename, body.size_bytes, body.content_type, body.sha256,
        settings.docs_max_bytes, settings.docs_content_types,
    )  # fmt: skip
    document_id = document_rules.new_document_id()
    key = document_rules.document_key(document_id, request.filename)
    with session_scope(settings) as db:  # committed before the answer: complete may follow
        # The asset row stays locked until the pending row is in: the owner checked is the
        # owner when the document attaches, whatever runs beside this request.
        exists, owner = masters.asset_owner(db, asset_id, for_update=True)
        if not exists:
            raise UnknownAsset(f"no asset {asset_id!r}; documents attach to promoted assets")
        if not may_act_on(owner, editor.key_id, editor.role):
            raise Forbidden(
                f"asset {asset_id!r} belongs to another editor: only its owner (or an admin) "
                "attaches documents to it"
            )
        documents.add_pending(
            db, document_id, asset_id, key, request.filename, request.content_type,
            request.size_bytes, request.sha256, editor.key_id,
        )  # fmt: skip
    url, headers = docs.presign_put(s3, settings, key, request.content_type, request.size_bytes)
    return DocumentUploadOut(
        document_id=document_id,
        key=key,
        url=url,
        headers=headers,
        expires_at=datetime.now(UTC) + timedelta(seconds=settings.docs_upload_expiry_s),
        max_bytes=settings.docs_max_bytes,
    )


@router.post(
    "/api/documents/{document_id}/complete",
    response_model=DocumentOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def complete_document(
    document_id: DocumentId, editor: Editor, s3: S3Dep, settings: SettingsDep
) -> DocumentOut:
    """Check what was PUT (size, sha256 read back from the bucket) and list it for reviewers.
    Bytes that do not match what was declared are deleted."""
    with session_scope(settings) as db:
        row = documents.get_document(db, document_id)
        if row is None:
            raise DocumentNotFound(f"no document {document_id}")
        if not may_act_on(row.owner_key_id, editor.key_id, editor.role):
            raise Forbidden("only the editor who started this document (or an admin) completes it")
        if row.state == DocumentState.READY:
            return DocumentOut(**documents.document_as_dict(row))
        key, declared_size, declared_sha = row.key, row.size_bytes, row.sha256
    size = docs.stored_size(s3, settings, key)
    # Read back only what could be right: a larger object is refused without hashing it.
    digest = docs.hash_document(s3, settings, key)[0] if size == declared_size else ""
    try:
        document_rules.check_upload(declared_size, size, declared_sha, digest)
    except InvalidRequest:
        if size is not None:
            docs.delete_document(s3, settings, key)
        raise
    with session_scope(settings) as db:
        return DocumentOut(
            **documents.document_as_dict(documents.mark_ready(db, document_id, digest))
        )


@router.get(
    "/api/assets/{asset_id}/documents",
    response_model=DocumentListOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def list_asset_documents(asset_id: AssetId, _: Reviewer, db: DbDep) -> DocumentListOut:
    exists, _owner = masters.asset_owner(db, asset_id)
    if not exists:
        raise UnknownAsset(f"no asset {asset_id!r}")
    rows = documents.ready_for_asset(db, asset_id)
    return DocumentListOut(documents=[DocumentOut(**documents.document_as_dict(r)) for r in rows])


@router.get(
    "/api/masters/{sha256}/documents",
    response_model=DocumentListOut,
    responses=error_responses(*AUTH_ERRORS),
)
def list_master_documents(
    sha256: Annotated[str, Path(max_length=200)], _: Reviewer, db: DbDep
) -> DocumentListOut:
    """The documents of every asset of one master: what the review page lists."""
    rows = documents.ready_for_master(db, normalize_sha256(sha256))
    return DocumentListOut(documents=[DocumentOut(**documents.document_as_dict(r)) for r in rows])


@router.get(
    "/api/documents/{document_id}",
    response_model=DocumentLinkOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def open_document(
    document_id: DocumentId, _: Reviewer, s3: S3Dep, settings: SettingsDep, db: DbDep
) -> DocumentLinkOut:
    """A presigned GET of the document, valid for `docs_open_expiry_s` seconds (default 120),
    serving it as an attachment of its recorded type (both signed into the URL)."""
    row = documents.get_document(db, document_id)
    if row is None or row.state != DocumentState.READY:
        raise DocumentNotFound(f"no document {document_id} (or its upload was not completed)")
    disposition = document_rules.content_disposition(row.filename)
    return DocumentLinkOut(
        **documents.document_as_dict(row),
        url=docs.presign_get(s3, settings, row.key, row.content_type, disposition),
        expires_at=datetime.now(UTC) + timedelta(seconds=settings.docs_open_expiry_s),
    )
