"""A preview's life, in one place: the only writer of the previews row, and the only place
that decides which multivariant playlist a player finds.

The row (PreviewStatus)::

    (none) → queued → building → ready
               ↑         ↓
               └──── failed (why, in words a person can act on)

Who moves it, always through these functions:
- the API (api/preview_trigger.py): `queue` a new attempt, `attach_run` its flow run;
- the preview flow (tasks/preview.py): `queue` its own run, `start_building`,
  `report_progress`, `mark_ready`, and `fail` from its failure/crash hook;
- the liveness sweep (dailies/previews/liveness.py): `fail` a run that died or ended
  without saying so, then `queue` the next attempt.

The multivariant playlist (`{sha}/manifest.m3u8`) has three writers, ranked
first rendition < stream copy < ladder (`Stage`): a higher stage replaces a lower one, never
the reverse. `publish_multivariant` is the one place that writes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from dailies.db import preview_writes
from dailies.db.models import Preview
from dailies.db.previews import ACTIVE, PreviewStatus, is_current, parse_status
from dailies.errors import BuildInProgress
from dailies.handoffs import BuiltPreview
from dailies.previews.layout import multivariant_key
from dailies.settings import Settings
from dailies.storage import previews as preview_store

# --- the row ---


@dataclass(frozen=True)
class Queued:
    """What `queue` left: the row's status and its attempt number."""

    status: PreviewStatus
    attempt: int


def queue(
    session: Session,
    sha256: str,
    flow_run_id: str | None = None,
    ladder_version: str | None = None,
) -> Queued:
    """The one way to queue a preview.

    Without `flow_run_id`: a new attempt is being launched (the API, the sweep). It gets the
    next attempt number and no run yet (`attach_run` records it); a queued row without a run
    is an attempt whose launcher died, and keeps its number, so its idempotency key finds
    the run if that was created after all.

    With `flow_run_id`: that run has started (a launched attempt's, or one started from the
    Prefect UI or CLI) and claims the row, unless a build is under way or a current preview
    of `ladder_version` exists: then the row is left as it is.
    """
    row = preview_writes.locked_row(session, sha256)
    if flow_run_id is not None:
        if row.status == PreviewStatus.BUILDING or is_current(row, ladder_version or ""):
            return Queued(parse_status(row.status), row.attempts)
        row.status, row.error, row.progress = PreviewStatus.QUEUED.value, None, None
        row.flow_run_id = flow_run_id
        return Queued(PreviewStatus.QUEUED, row.attempts)
    if not (row.status == PreviewStatus.QUEUED and row.flow_run_id is None):
        row.attempts = (row.attempts or 0) + 1
    row.status, row.error, row.progress = PreviewStatus.QUEUED.value, None, None
    row.flow_run_id, row.started_at, row.finished_at = None, None, None
    session.flush()
    return Queued(PreviewStatus.QUEUED, row.attempts)


def attach_run(session: Session, sha256: str, attempt: int, flow_run_id: str) -> None:
    """Record the flow run launched for `attempt`, unless the flow already moved the row on."""
    preview_writes.attach_run(session, sha256, attempt, flow_run_id)


def start_building(
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
    row = preview_writes.locked_row(session, sha256)
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


def report_progress(session: Session, sha256: str, fraction: float) -> None:
    """A building row's progress, 0..1 (other statuses are left alone)."""
    preview_writes.update_progress(session, sha256, round(max(0.0, min(1.0, fraction)), 4))


def mark_ready(session: Session, built: BuiltPreview) -> Preview:
    row = preview_writes.locked_row(session, built.sha256)
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


def fail(
    session: Session,
    sha256: str,
    reason: str,
    flow_run_id: str | None,
    ladder_version: str | None = None,
    failed_at: datetime | None = None,
) -> bool:
    """The one way to fail a preview: record why `flow_run_id` failed; True if the row changed.

    Left alone: a ready preview (of `ladder_version`, or of any version when None: a later or
    concurrent run succeeded, and this one failed only waiting for it); a row that has moved
    on to another, active attempt (`moved_on`); a row this run already failed (its first
    reason stands: the flow's hook says more than the sweep can)."""
    row = preview_writes.locked_row(session, sha256)
    if row.status == PreviewStatus.READY and (
        ladder_version is None or row.ladder_version == ladder_version
    ):
        return False
    if moved_on(row, flow_run_id):
        return False
    if row.status == PreviewStatus.FAILED and row.flow_run_id == flow_run_id:
        return False
    row.status, row.error, row.progress = PreviewStatus.FAILED.value, reason[:4000], None
    if ladder_version is not None:
        row.ladder_version = ladder_version
    row.flow_run_id = flow_run_id
    row.finished_at = failed_at or datetime.now(UTC)
    return True


def building_elsewhere(
    row: Preview, flow_run_id: str | None, now: datetime, stall_s: float
) -> bool:
    """Whether another run is building the row and has moved it within `stall_s` (one
    that has not is dead: the liveness sweep relaunches it too)."""
    if row.status != PreviewStatus.BUILDING or flow_run_id is None or row.flow_run_id is None:
        return False
    if row.flow_run_id == flow_run_id or row.updated_at is None:
        return False
    return (now - row.updated_at).total_seconds() < stall_s


def moved_on(row: Preview, flow_run_id: str | None) -> bool:
    """Whether the row now belongs to another, active attempt: a crashed run's hook can
    report after the sweep has judged that run dead and launched the next one (a worker runs
    crash hooks late, once it has loaded the flow), and must not fail the new attempt. That
    includes an attempt being launched (queued, its run not yet attached): failed there, its
    run would never be attached and a third would be launched beside it."""
    return (
        flow_run_id is not None
        and row.flow_run_id != flow_run_id
        and parse_status(row.status) in ACTIVE
    )


# --- the multivariant playlist ---


class Stage(enum.IntEnum):
    """Who writes the multivariant playlist, lowest rank first."""

    FIRST_RENDITION = 1  # the task worker's head start (tasks/first_rendition.py)
    STREAM_COPY = 2  # the master remuxed, when a browser can play it as it is
    LADDER_STARTED = 3  # the ladder's estimate, once every rendition has a segment out
    LADDER = 4  # the ladder measured, written last: every rendition is complete


def publish_multivariant(s3: Any, settings: Settings, sha256: str, text: str, stage: Stage) -> bool:
    """Write the multivariant playlist for `stage`; False when a higher stage's is there.

    The first rendition runs in another process, beside the build, so it writes only where
    no playlist exists (If-None-Match: *): it never replaces the build's. The build's own
    stages follow each other in one run (stream copy, then the ladder's estimate, then the
    measured ladder), each replacing the last; only the measured one is cached for long."""
    key = multivariant_key(sha256)
    if stage == Stage.FIRST_RENDITION:
        return preview_store.upload_preview_text_if_absent(s3, settings, key, text)
    preview_store.upload_preview_text(s3, settings, key, text, final=stage == Stage.LADDER)
    return True


def multivariant_published(s3: Any, settings: Settings, sha256: str) -> bool:
    """Whether any stage's multivariant playlist is in the bucket."""
    return preview_store.preview_exists(s3, settings, multivariant_key(sha256))
