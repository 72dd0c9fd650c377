"""Preview rules, pure, no I/O: what a preview trigger should do given the previews row, and
whether the run a row points at is still building it."""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import datetime

from dailies.db.models import Preview
from dailies.db.previews import ACTIVE, PreviewStatus, parse_status


@dataclass(frozen=True)
class PreviewSnapshot:
    """The previews row as the trigger sees it (MISSING: no row yet)."""

    status: PreviewStatus = PreviewStatus.MISSING
    flow_run_id: str | None = None
    attempts: int = 0
    error: str | None = None
    progress: float | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None


def snapshot_of(row: Preview | None) -> PreviewSnapshot:
    if row is None:
        return PreviewSnapshot()
    return PreviewSnapshot(
        status=parse_status(row.status),
        flow_run_id=row.flow_run_id,
        attempts=row.attempts or 0,
        error=row.error,
        progress=row.progress,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


class Action(enum.Enum):
    READY = "ready"  # answer 200 with the manifest URL
    IN_FLIGHT = "in_flight"  # a run is queued/building: answer 202
    BACKING_OFF = "backing_off"  # failed recently: answer 202 with the wait left
    LAUNCH = "launch"  # start a new run (under the single-flight claim)


@dataclass(frozen=True)
class Verdict:
    action: Action
    retry_after_s: int = 0


@dataclass(frozen=True)
class PreviewTiming:
    retry_after_s: int
    retry_base_s: int
    retry_max_s: int


class Liveness(enum.Enum):
    ALIVE = "alive"  # leave it be
    DIED = "died"  # crashed, vanished or stalled: a host failure, so launch again at once
    ENDED = "ended"  # finished without a ready preview: its failure stands (backoff applies)


def judge_run(
    state_type: str | None,
    row_age_s: float,
    stall_s: float,
    state_age_s: float = math.inf,
    worker_lost: bool = False,
) -> Liveness:
    """Is the run a previews row points at still building it?

    `state_type` is Prefect's (None: no such run). A started run whose row has not moved
    for `stall_s` counts as dead: a killed host leaves its run RUNNING for ever unless
    something marks it crashed, and its partial preview must not hold reviewers hostage.
    A Pending run is a process being started, which does not touch the row: it is judged
    by how long it has been Pending (`state_age_s`), not by the row's age, which includes
    the time it waited for a worker. A Scheduled run is waiting its turn (a worker, a
    concurrency slot): launching another would only queue behind it. A run whose worker
    and own process have both stopped heartbeating (`worker_lost`: the host is gone; a
    restarted worker alone leaves its runs building) is dead without waiting out the stall
    window.
    """
    if state_type is None or state_type == "CRASHED":
        return Liveness.DIED
    if state_type in {"COMPLETED", "FAILED", "CANCELLED"}:
        return Liveness.ENDED
    if state_type in {"SCHEDULED", "PAUSED"}:
        return Liveness.ALIVE
    if worker_lost:
        return Liveness.DIED
    age = min(row_age_s, state_age_s) if state_type == "PENDING" else row_age_s
    return Liveness.DIED if age >= stall_s else Liveness.ALIVE


def backoff_s(attempts: int, base_s: int, max_s: int) -> int:
    """Wait after the n-th failure: base, 2·base, 4·base… capped, so no hot re-trigger loop."""
    exponent = min(max(attempts, 1) - 1, 30)
    return int(min(base_s * 2**exponent, max_s))


def manifest_url(edge_url: str, sha256: str) -> str:
    return f"{edge_url.rstrip('/')}/previews/{sha256}/manifest.m3u8"


def decide(snapshot: PreviewSnapshot, now: datetime, timing: PreviewTiming) -> Verdict:
    status = snapshot.status
    if status == PreviewStatus.READY:
        return Verdict(Action.READY)
    if status == PreviewStatus.MISSING:
        return Verdict(Action.LAUNCH)
    if status in ACTIVE:
        if snapshot.flow_run_id is None:
            # A launcher died between writing the row and creating the run: launch again
            # (the same idempotency key finds the run if it was created after all).
            return Verdict(Action.LAUNCH)
        # However long it has been quiet: whether its run still lives is the liveness
        # sweep's question (dailies/previews/liveness.py), never a request's.
        return Verdict(Action.IN_FLIGHT, timing.retry_after_s)
    if status == PreviewStatus.FAILED:
        failed_at = snapshot.finished_at or snapshot.updated_at
        wait = backoff_s(snapshot.attempts, timing.retry_base_s, timing.retry_max_s)
        left = wait - age_s(failed_at, now)
        if left > 0:
            return Verdict(Action.BACKING_OFF, max(1, math.ceil(left)))
        return Verdict(Action.LAUNCH)
    raise AssertionError(f"unhandled preview status {status!r}")


def age_s(then: datetime | None, now: datetime) -> float:
    if then is None:
        return math.inf
    return (now - then).total_seconds()


# A scratch folder of a build (tempfile.mkdtemp with our prefixes) and the path inside it;
# then any other absolute path on the worker (its home, its venv, the temp dir).
_NOT_PATH = r"\s'\":"
_SCRATCH_PATH = re.compile(
    rf"(?:/[^{_NOT_PATH}/]+)*/dailies-(?:preview|first)-[^{_NOT_PATH}/]+(?:/[^{_NOT_PATH}]*)*"
)
_WORKER_PATH = re.compile(
    rf"(?<![\w.:/])/(?:tmp|root|home|opt|var|usr|srv|work)(?:/[^{_NOT_PATH}]*)*"
)


def public_reason(message: str) -> str:
    """A failure message as a reviewer may read it: worker paths replaced, the words kept."""
    message = _SCRATCH_PATH.sub("<scratch>", message)
    return _WORKER_PATH.sub("<worker path>", message)
