"""The previews table, read: for the API, the CLI and the preview lifecycle.

Every write of the row goes through dailies/previews/lifecycle.py (its SQL is in
db/preview_writes.py, which nothing else imports: tests/test_structure.py checks it).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dailies.db.models import Master, Preview


class PreviewStatus(enum.StrEnum):
    """previews.status. `MISSING` is never stored: it is what readers say when no row exists."""

    MISSING = "missing"
    QUEUED = "queued"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


ACTIVE = frozenset({PreviewStatus.QUEUED, PreviewStatus.BUILDING})


def parse_status(value: str | None) -> PreviewStatus:
    """A stored status; one this code does not know (a newer flow) reads as queued."""
    if value is None:
        return PreviewStatus.MISSING
    try:
        return PreviewStatus(value)
    except ValueError:
        return PreviewStatus.QUEUED


def get_preview(session: Session, sha256: str) -> Preview | None:
    return session.get(Preview, sha256, populate_existing=True)


def load_with_master(session: Session, sha256: str) -> tuple[bool, Preview | None]:
    """(master exists, its preview row), in one query: it is the API's hot path."""
    found = session.execute(
        select(Master.sha256, Preview)
        .outerjoin(Preview, Preview.sha256 == Master.sha256)
        .where(Master.sha256 == sha256)
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        return False, None
    return True, found[1]


def is_current(row: Preview | None, ladder_version: str) -> bool:
    return (
        row is not None
        and row.status == PreviewStatus.READY
        and row.ladder_version == ladder_version
    )


def stale_active(session: Session, updated_before: datetime, limit: int) -> list[Preview]:
    """Queued or building rows untouched since `updated_before`, oldest first: the ones
    whose run the liveness sweep asks Prefect about (or, without a run, launches)."""
    return list(
        session.scalars(
            select(Preview)
            .where(Preview.status.in_([s.value for s in ACTIVE]))
            .where(Preview.updated_at < updated_before)
            .order_by(Preview.updated_at)
            .limit(limit)
        )
    )


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
        "start_timecode": row.start_timecode,
        "frame_rate": row.frame_rate,
    }
