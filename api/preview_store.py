"""The API's reads and writes of the previews row. The preview flow owns building/ready/
failed; the API writes only `queued` (a new attempt) and `failed` for runs that died
without saying so (crashed before the flow's own hooks could run)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.preview_rules import ACTIVE, PreviewSnapshot
from dailies.db.models import Master, Preview


def load(session: Session, sha256: str) -> tuple[bool, PreviewSnapshot]:
    """(master exists, the preview row as a snapshot), in one query: it is the hot path."""
    found = session.execute(
        select(Master.sha256, Preview)
        .outerjoin(Preview, Preview.sha256 == Master.sha256)
        .where(Master.sha256 == sha256)
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        return False, PreviewSnapshot()
    row = found[1]
    if row is None:
        return True, PreviewSnapshot()
    return True, PreviewSnapshot(
        status=row.status,
        flow_run_id=row.flow_run_id,
        attempts=row.attempts or 0,
        error=row.error,
        progress=row.progress,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def queue_attempt(session: Session, sha256: str) -> int:
    """Mark the preview queued for a new attempt; return the attempt number.

    A queued row without a flow run is an attempt whose launcher died: it keeps its
    number, so its idempotency key finds the run if that was created after all.
    """
    row = session.get(Preview, sha256, with_for_update=True)
    if row is None:
        row = Preview(sha256=sha256, status="queued", attempts=1)
        session.add(row)
    elif not (row.status == "queued" and row.flow_run_id is None):
        row.attempts = (row.attempts or 0) + 1
    row.status = "queued"
    row.flow_run_id = None
    row.error = None
    row.progress = None
    row.started_at = None
    row.finished_at = None
    session.flush()
    return row.attempts


def attach_run(session: Session, sha256: str, attempt: int, flow_run_id: str) -> None:
    """Record the run of an attempt, unless the flow already moved the row on."""
    session.execute(
        update(Preview)
        .where(Preview.sha256 == sha256, Preview.attempts == attempt)
        .where(Preview.flow_run_id.is_(None))
        .values(flow_run_id=flow_run_id)
    )


def mark_run_failed(
    session: Session, sha256: str, flow_run_id: str, message: str, failed_at: datetime
) -> bool:
    """Fail the row of a run that ended without updating it; True if the row changed."""
    changed = session.execute(
        update(Preview)
        .where(Preview.sha256 == sha256, Preview.flow_run_id == flow_run_id)
        .where(Preview.status.in_(ACTIVE))
        .values(status="failed", error=message, finished_at=failed_at, progress=None)
        .returning(Preview.sha256)
    )
    return bool(changed.all())
