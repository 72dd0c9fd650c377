"""The liveness sweep: a preview the system started, the system finishes.

A killed host leaves its flow run RUNNING for ever and its previews row `building`; a run that
ended without its hook (a worker that died before running it) leaves the row `queued` or
`building` too. Every `preview_sweep_interval_s` each API replica asks Prefect about the runs
of active rows quiet for `preview_recheck_after_s`, whether or not anyone is watching (and
launches the run of an attempt whose launcher died before it had one):
- a run that died (crashed, vanished, stalled, its worker and its own heartbeats lost) is
  marked Crashed in Prefect
  (so the UI says what we decided) and the next attempt is launched at once;
- a run that ended without a ready preview fails the row with its reason (the back-off then
  applies to the next request);
- anything else is left alone.
Replicas sweeping side by side are safe: `lifecycle.fail` changes the row for one of them only,
and the attempt's idempotency key gives a racing request the same run.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

import anyio.to_thread
from prefect.client.orchestration import PrefectClient
from sqlalchemy.orm import Session

from dailies import runs
from dailies.clients import session_scope
from dailies.db import previews
from dailies.preview_rules import Liveness, age_s, judge_run, public_reason
from dailies.previews import dispatch, lifecycle
from dailies.settings import Settings

logger = logging.getLogger("dailies.previews")
T = TypeVar("T")
BATCH = 100


@dataclass(frozen=True)
class Swept:
    """One row the sweep looked at, and what it did."""

    sha256: str
    flow_run_id: str | None  # None: an attempt whose launcher died before it had a run
    liveness: Liveness
    relaunched_as: str | None = None


async def _in_db(settings: Settings, work: Callable[[Session], T]) -> T:
    def run() -> T:
        with session_scope(settings) as session:
            return work(session)

    return await anyio.to_thread.run_sync(run)


async def sweep_once(prefect: PrefectClient, settings: Settings) -> list[Swept]:
    """Judge the run of every active row quiet for `preview_recheck_after_s` (launch it,
    for an attempt that never had one)."""
    quiet_since = datetime.now(UTC) - timedelta(seconds=settings.preview_recheck_after_s)
    rows = await _in_db(
        settings,
        lambda s: [
            (r.sha256, r.flow_run_id, r.updated_at, r.attempts)
            for r in previews.stale_active(s, quiet_since, BATCH)
        ],
    )
    swept = []
    for sha, flow_run_id, updated_at, attempts in rows:
        try:
            if flow_run_id is None:
                swept.append(await launch_orphan(prefect, settings, sha, attempts))
            else:
                swept.append(
                    await check_run(prefect, settings, sha, flow_run_id, updated_at, attempts)
                )
        except Exception as exc:  # one row's trouble (Prefect away) must not stop the rest
            logger.warning("preview of %s: its run not checked: %s", sha[:12], exc)
    return swept


async def launch_orphan(
    prefect: PrefectClient, settings: Settings, sha: str, attempt: int
) -> Swept:
    """An attempt queued and never given a run: its launcher (an API replica) died between
    the row and the run. Launched again under the same attempt number, its idempotency key
    finds the run if Prefect created it after all, so there is still one run per attempt."""
    run_id = await dispatch.launch_ladder(prefect, settings, sha, attempt)
    await _in_db(settings, lambda s: lifecycle.attach_run(s, sha, attempt, run_id))
    logger.warning("preview of %s: attempt %d had no run; it is %s", sha[:12], attempt, run_id)
    return Swept(sha, None, Liveness.DIED, relaunched_as=run_id)


async def check_run(
    prefect: PrefectClient,
    settings: Settings,
    sha: str,
    flow_run_id: str,
    row_updated_at: datetime | None,
    attempts: int = 1,
) -> Swept:
    """Ask Prefect about the row's run; fail the row of a dead or ended one (with why) and
    relaunch a dead one, unless the preview has had preview_sweep_max_attempts already (a
    master that kills every worker that builds it must not be relaunched for ever)."""
    try:
        run = await runs.read_run(prefect, UUID(flow_run_id))
    except ValueError:  # not an id Prefect issues: no such run
        run = None
    state = run.state if run is not None else None
    lost_worker = None
    if run is not None and state is not None and not state.is_final():
        lost_worker = await runs.lost_worker_of(prefect, run, settings.preview_worker_lost_s)
        if lost_worker is not None and await runs.beat_within(
            prefect, run.id, settings.preview_run_silent_s
        ):
            lost_worker = None  # its worker went (a restart), its process goes on building
    now = datetime.now(UTC)
    liveness = judge_run(
        state.type.value if state is not None else None,
        age_s(row_updated_at, now),
        settings.preview_stall_s,
        age_s(state.timestamp, now) if state is not None else math.inf,
        worker_lost=lost_worker is not None,
    )
    if liveness == Liveness.ALIVE:
        return Swept(sha, flow_run_id, liveness)
    failed_at = now
    if run is None or state is None:
        message = f"flow run {flow_run_id} no longer exists"
    elif not state.is_final():
        message = (
            f"flow run {flow_run_id}: its worker {lost_worker} and its own process stopped "
            "heartbeating; retrying"
            if lost_worker is not None
            else f"flow run {flow_run_id} made no progress for "
            f"{settings.preview_stall_s:.0f} s (its worker is gone?); retrying"
        )
        await runs.mark_crashed(prefect, run.id, message)
    else:
        described = runs.describe_state(run)
        reason = public_reason(described["error"] or "it ended without marking the preview ready")
        message = f"flow run {flow_run_id} {described['state']}: {reason}"
        failed_at = state.timestamp or now
    relaunch = liveness == Liveness.DIED and attempts < settings.preview_sweep_max_attempts
    if liveness == Liveness.DIED and not relaunch:
        message = f"{message.removesuffix('; retrying')}; {attempts} attempts died: ask again"

    def fail(session: Session) -> int | None:
        # Failed and requeued in one transaction: a request in between sees the old row or
        # the new attempt, never a failure to back off from (a lost host is no reason to).
        if not lifecycle.fail(session, sha, message, flow_run_id, failed_at=failed_at):
            return None  # a replica or the run's own hook got there first
        return lifecycle.queue(session, sha).attempt if relaunch else None

    attempt = await _in_db(settings, fail)
    if attempt is None:
        return Swept(sha, flow_run_id, liveness)
    logger.warning("preview of %s: %s", sha[:12], message)
    new_run = await dispatch.launch_ladder(prefect, settings, sha, attempt)
    await _in_db(settings, lambda s: lifecycle.attach_run(s, sha, attempt, new_run))
    return Swept(sha, flow_run_id, liveness, relaunched_as=new_run)


async def sweep_forever(
    get_prefect: Callable[[], Awaitable[PrefectClient]], settings: Settings
) -> None:
    """`sweep_once` every `preview_sweep_interval_s` until cancelled; a failed sweep (Prefect
    or the database away) is one log line, and the next one tries again."""
    while True:
        await asyncio.sleep(settings.preview_sweep_interval_s)
        try:
            await sweep_once(await get_prefect(), settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("preview liveness sweep failed, trying again: %s", exc)
