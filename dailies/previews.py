"""The previews row: the source of truth the API reads (queued/building/ready/failed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from dailies.db.dialect import upsert_insert
from dailies.db.models import Preview
from dailies.hashing import normalize_sha256
from dailies.media.encoders import validate_encoder_request

QUEUED, BUILDING, READY, FAILED = "queued", "building", "ready", "failed"


@dataclass(frozen=True)
class PreviewRequest:
    sha256: str
    encoder: str  # auto, nvenc or cpu


def validate_preview_request(sha256: str, encoder: str = "auto") -> PreviewRequest:
    return PreviewRequest(normalize_sha256(sha256), validate_encoder_request(encoder))


def _locked_row(session: Session, sha256: str) -> Preview:
    """The row, created as queued if missing, locked for this transaction."""
    session.execute(
        upsert_insert(session, Preview)
        # A row the flow creates is a first attempt; the API numbers the attempts it
        # launches (api/preview_store.py), so the flow never increments.
        .values(sha256=sha256, status=QUEUED, attempts=1)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    row = session.get(Preview, sha256, with_for_update=True, populate_existing=True)
    assert row is not None  # inserted or already there, in this transaction
    return row


def get_preview(session: Session, sha256: str) -> Preview | None:
    return session.get(Preview, sha256, populate_existing=True)


def is_current(row: Preview | None, ladder_version: str) -> bool:
    return row is not None and row.status == READY and row.ladder_version == ladder_version


def mark_queued(session: Session, sha256: str, ladder_version: str, flow_run_id: str | None) -> str:
    """Queue unless a build is under way or a current preview exists; return the status."""
    row = _locked_row(session, sha256)
    if row.status == BUILDING or is_current(row, ladder_version):
        return row.status
    row.status, row.error, row.progress = QUEUED, None, None
    row.flow_run_id = flow_run_id
    return row.status


def mark_building(
    session: Session, sha256: str, ladder_version: str, encoder: str, flow_run_id: str | None
) -> None:
    """Called by the run holding the build lock: only one at a time per sha."""
    row = _locked_row(session, sha256)
    row.status, row.error, row.progress = BUILDING, None, 0.0
    row.ladder_version, row.encoder, row.flow_run_id = ladder_version, encoder, flow_run_id
    row.started_at, row.finished_at = datetime.now(UTC), None


def set_progress(session: Session, sha256: str, fraction: float) -> None:
    session.execute(
        update(Preview)
        .where(Preview.sha256 == sha256, Preview.status == BUILDING)
        .values(progress=round(max(0.0, min(1.0, fraction)), 4))
    )


def mark_ready(session: Session, sha256: str, built: dict[str, Any]) -> Preview:
    row = _locked_row(session, sha256)
    row.status, row.error, row.progress = READY, None, 1.0
    row.ladder_version = built["ladder_version"]
    row.encoder = built["encoder"]
    row.renditions = built["renditions"]
    row.duration_s = built["duration_s"]
    row.manifest_key = built["manifest_key"]
    if row.finished_at is None or row.started_at is None or row.finished_at < row.started_at:
        row.finished_at = datetime.now(UTC)
    return row


def mark_failed(
    session: Session, sha256: str, ladder_version: str, error: str, flow_run_id: str | None
) -> bool:
    """Record why a build failed, unless a current preview exists (a later run succeeded,
    or a concurrent one did and this one failed only waiting for it)."""
    row = _locked_row(session, sha256)
    if is_current(row, ladder_version):
        return False
    row.status, row.error, row.progress = FAILED, error[:4000], None
    row.ladder_version, row.flow_run_id = ladder_version, flow_run_id
    row.finished_at = datetime.now(UTC)
    return True


def preview_as_dict(row: Preview) -> dict[str, Any]:
    return {
        "sha256": row.sha256,
        "status": row.status,
        "manifest_key": row.manifest_key,
        "renditions": row.renditions or [],
        "duration_s": row.duration_s,
        "encoder": row.encoder,
        "ladder_version": row.ladder_version,
        "progress": row.progress,
        "error": row.error,
        "attempts": row.attempts,
        "flow_run_id": row.flow_run_id,
    }
