"""The previews table: every read and write of it, for the flows and the API alike.

The preview flow moves a row through building → ready/failed; the API writes `queued` (a new
attempt it launches) and `failed` for runs that died without saying so.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dailies.db.dialect import upsert_insert
from dailies.db.models import Master, Preview
from dailies.errors import BuildInProgress
from dailies.handoffs import BuiltPreview


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


def _locked_row(session: Session, sha256: str) -> Preview:
    """The row, created as queued if missing, locked for this transaction."""
    session.execute(
        upsert_insert(session, Preview)
        # A row the flow creates is a first attempt; the API numbers the attempts it
        # launches (queue_attempt), so the flow never increments.
        .values(sha256=sha256, status=PreviewStatus.QUEUED.value, attempts=1)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    row = session.get(Preview, sha256, with_for_update=True, populate_existing=True)
    assert row is not None  # inserted or already there, in this transaction
    return row


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


# --- the flow's writes ---


def mark_queued(
    session: Session, sha256: str, ladder_version: str, flow_run_id: str | None
) -> PreviewStatus:
    """Queue unless a build is under way or a current preview exists; return the status."""
    row = _locked_row(session, sha256)
    if row.status == PreviewStatus.BUILDING or is_current(row, ladder_version):
        return parse_status(row.status)
    row.status, row.error, row.progress = PreviewStatus.QUEUED.value, None, None
    row.flow_run_id = flow_run_id
    return PreviewStatus.QUEUED


def mark_building(
    session: Session,
    sha256: str,
    ladder_version: str,
    encoder: str,
    flow_run_id: str | None,
    stall_s: float = 300,
) -> None:
    """Called by the run holding the build lock: only one at a time per sha. The lock lives
    in Redis and a Redis restart forgets it, so the row is the fence: a row another run is
    building, and has moved within `stall_s`, raises BuildInProgress instead."""
    row = _locked_row(session, sha256)
    other = row.flow_run_id
    if building_elsewhere(row, flow_run_id, datetime.now(UTC), stall_s):
        progress = f"{row.progress:.0%}" if row.progress is not None else "starting"
        raise BuildInProgress(
            f"flow run {other} is building the preview of {sha256[:12]} ({progress}); this "
            "run stands down rather than build it twice (the build lock was lost)"
        )
    row.status, row.error, row.progress = PreviewStatus.BUILDING.value, None, 0.0
    row.ladder_version, row.encoder, row.flow_run_id = ladder_version, encoder, flow_run_id
    row.started_at, row.finished_at = datetime.now(UTC), None


def building_elsewhere(
    row: Preview, flow_run_id: str | None, now: datetime, stall_s: float
) -> bool:
    """Whether another run is building the row and has moved it within `stall_s` (one
    that has not is dead: the API's stall guard would relaunch it too)."""
    if row.status != PreviewStatus.BUILDING or flow_run_id is None or row.flow_run_id is None:
        return False
    if row.flow_run_id == flow_run_id or row.updated_at is None:
        return False
    return (now - row.updated_at).total_seconds() < stall_s


def set_progress(session: Session, sha256: str, fraction: float) -> None:
    session.execute(
        update(Preview)
        .where(Preview.sha256 == sha256, Preview.status == PreviewStatus.BUILDING.value)
        .values(progress=round(max(0.0, min(1.0, fraction)), 4))
    )


def mark_ready(session: Session, built: BuiltPreview) -> Preview:
    row = _locked_row(session, built.sha256)
    row.status, row.error, row.progress = PreviewStatus.READY.value, None, 1.0
    row.ladder_version = built.ladder_version
    row.encoder = built.encoder
    row.renditions = list(built.renditions)
    row.duration_s = built.duration_s
    row.manifest_key = built.manifest_key
    if built.timing:
        row.start_timecode = built.timing["start_timecode"]
        row.frame_rate = built.timing["frame_rate"]
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
    if moved_on(row, flow_run_id):
        return False
    row.status, row.error, row.progress = PreviewStatus.FAILED.value, error[:4000], None
    row.ladder_version, row.flow_run_id = ladder_version, flow_run_id
    row.finished_at = datetime.now(UTC)
    return True


def moved_on(row: Preview, flow_run_id: str | None) -> bool:
    """Whether the row now belongs to another, active attempt: a crashed run's hook can
    report after the API has judged that run dead and launched the next one (a worker runs
    crash hooks late, once it has loaded the flow), and must not fail the new attempt. That
    includes an attempt being launched (queued, its run not yet attached): failed there, its
    run would never be attached and a third would be launched beside it."""
    return (
        flow_run_id is not None
        and row.flow_run_id != flow_run_id
        and parse_status(row.status) in ACTIVE
    )


# --- the API's writes ---


def queue_attempt(session: Session, sha256: str) -> int:
    """Mark the preview queued for a new attempt; return the attempt number.

    A queued row without a flow run is an attempt whose launcher died: it keeps its
    number, so its idempotency key finds the run if that was created after all.
    """
    row = session.get(Preview, sha256, with_for_update=True)
    if row is None:
        row = Preview(sha256=sha256, status=PreviewStatus.QUEUED.value, attempts=1)
        session.add(row)
    elif not (row.status == PreviewStatus.QUEUED and row.flow_run_id is None):
        row.attempts = (row.attempts or 0) + 1
    row.status = PreviewStatus.QUEUED.value
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
        .where(Preview.status.in_([s.value for s in ACTIVE]))
        .values(
            status=PreviewStatus.FAILED.value,
            error=message,
            finished_at=failed_at,
            progress=None,
        )
        .returning(Preview.sha256)
    )
    return bool(changed.all())


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
