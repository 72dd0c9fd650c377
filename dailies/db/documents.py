"""The documents table: files attached to assets, pending until their upload is checked."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dailies.db.models import Asset, Document


class DocumentState(enum.StrEnum):
    PENDING = "pending"  # presigned; the PUT may not have happened
    READY = "ready"  # size and sha256 checked: listed and opened by reviewers


def add_pending(
    session: Session,
    document_id: str,
    asset_id: str,
    key: str,
    filename: str,
    content_type: str,
    size_bytes: int,
    sha256: str | None,
    owner_key_id: int,
) -> Document:
    row = Document(
        document_id=document_id,
        asset_id=asset_id,
        key=key,
        filename=filename,
        content_type=content_type,
        size_bytes=size_bytes,
        sha256=sha256,
        state=DocumentState.PENDING.value,
        owner_key_id=owner_key_id,
    )
    session.add(row)
    session.flush()
    return row


def get_document(session: Session, document_id: str) -> Document | None:
    return session.get(Document, document_id)


def mark_ready(session: Session, document_id: str, sha256: str) -> Document:
    row = session.get(Document, document_id, with_for_update=True)
    assert row is not None  # the caller read it in this transaction
    row.state, row.sha256, row.completed_at = DocumentState.READY.value, sha256, datetime.now(UTC)
    return row


def ready_for_asset(session: Session, asset_id: str) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .where(Document.asset_id == asset_id, Document.state == DocumentState.READY.value)
            .order_by(Document.completed_at, Document.document_id)
        )
    )


def ready_for_master(session: Session, sha256: str) -> list[Document]:
    """Every asset's documents for one master: what its review page lists."""
    return list(
        session.scalars(
            select(Document)
            .join(Asset, Asset.asset_id == Document.asset_id)
            .where(Asset.master_sha256 == sha256, Document.state == DocumentState.READY.value)
            .order_by(Document.asset_id, Document.completed_at, Document.document_id)
        )
    )


def document_as_dict(row: Document) -> dict[str, Any]:
    return {
        "document_id": row.document_id,
        "asset_id": row.asset_id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "state": row.state,
        "uploaded_at": row.completed_at,
    }
