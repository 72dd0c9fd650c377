"""The edge's 404 path: turn "no preview here" into at most one preview flow run.

Single-flight is ours (a Redis SET NX claim per sha), not Prefect's: only the holder of the
claim may write the row and create a run; everyone else reads what the holder published.
Prefect's idempotency key (sha + attempt number) is a second guard should a claim expire
mid-launch.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from prefect.client.orchestration import PrefectClient

from api import launcher
from api.deps import DbRunner
from api.limits import PENDING, SingleFlight
from dailies.db import previews
from dailies.db.previews import ACTIVE, PreviewStatus
from dailies.errors import UnknownMaster
from dailies.preview_rules import (
    Action,
    Liveness,
    PreviewSnapshot,
    PreviewTiming,
    Verdict,
    age_s,
    decide,
    judge_run,
    manifest_url,
    public_reason,
    snapshot_of,
)
from dailies.settings import Settings
from tasks.first_play import publish_first_rendition

WAIT_FOR_HOLDER_S = 2.0
logger = logging.getLogger("dailies.api")


@dataclass(frozen=True)
class Outcome:
    """What to answer: 200 body when ready, else a 202 body."""

    ready: bool
    body: dict[str, Any]


class PreviewTrigger:
    def __init__(
        self,
        settings: Settings,
        db: DbRunner,
        single_flight: SingleFlight,
        prefect: PrefectClient,
    ) -> None:
        self.settings, self._db = settings, db
        self.single_flight, self.prefect = single_flight, prefect
        self.timing = PreviewTiming(
            retry_after_s=settings.preview_retry_after_s,
            retry_base_s=settings.preview_retry_base_s,
            retry_max_s=settings.preview_retry_max_s,
            recheck_after_s=settings.preview_recheck_after_s,
        )

    async def _snapshot(self, sha: str, priority: bool = False) -> PreviewSnapshot:
        exists, row = await self._db(
            lambda session: previews.load_with_master(session, sha), priority=priority
        )
        if not exists:
            raise UnknownMaster(f"no master with sha256 {sha}; promote it first")
        return snapshot_of(row)

    async def trigger(self, sha: str) -> Outcome:
        snapshot = await self._snapshot(sha)
        verdict = decide(snapshot, datetime.now(UTC), self.timing)
        if verdict.action not in (Action.LAUNCH, Action.RECHECK):
            return self._answer(sha, snapshot, verdict)

        claim = await self.single_flight.claim(sha, self.settings.preview_single_flight_ttl_s)
        if claim is None:
            return await self._follow_holder(sha, verdict)
        try:
            return await self._as_holder(sha, claim)
        except BaseException:
            await self.single_flight.release(sha, claim)
            raise

    async def _follow_holder(self, sha: str, verdict: Verdict) -> Outcome:
        """Someone else holds the claim: wait briefly for the run id it publishes."""
        delay, waited = 0.02, 0.0
        while waited < WAIT_FOR_HOLDER_S:
            value = await self.single_flight.peek(sha)
            if value is None:  # the holder finished without launching: the row says why
                snapshot = await self._snapshot(sha)
                again = decide(snapshot, datetime.now(UTC), self.timing)
                if again.action in (Action.LAUNCH, Action.RECHECK):
                    break
                return self._answer(sha, snapshot, again)
            if not value.startswith(PENDING):
                return self._accepted(PreviewStatus.QUEUED, value)
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 1.5, 0.25)
        return self._accepted(PreviewStatus.QUEUED, None)

    async def _as_holder(self, sha: str, claim: str) -> Outcome:
        ttl = self.settings.preview_single_flight_ttl_s
        # Fresh: the last holder may have just launched.
        snapshot = await self._snapshot(sha, priority=True)
        verdict = decide(snapshot, datetime.now(UTC), self.timing)
        if verdict.action == Action.RECHECK and snapshot.flow_run_id:
            liveness = await self._check_run(sha, snapshot)
            if liveness == Liveness.ALIVE:
                await self.single_flight.publish(sha, claim, snapshot.flow_run_id, ttl)
                return self._answer(sha, snapshot, Verdict(Action.IN_FLIGHT))
            snapshot = await self._snapshot(sha, priority=True)
            if liveness == Liveness.DIED:
                verdict = Verdict(Action.LAUNCH)  # a lost host is no reason to back off
            else:
                verdict = decide(snapshot, datetime.now(UTC), self.timing)
        elif verdict.action == Action.RECHECK:
            verdict = Verdict(Action.LAUNCH)

        if verdict.action != Action.LAUNCH:
            if snapshot.flow_run_id and verdict.action == Action.IN_FLIGHT:
                await self.single_flight.publish(sha, claim, snapshot.flow_run_id, ttl)
            else:
                await self.single_flight.release(sha, claim)
            return self._answer(sha, snapshot, verdict)

        run_id = await self._launch(sha)
        await self.single_flight.publish(sha, claim, run_id, ttl)
        return self._accepted(PreviewStatus.QUEUED, run_id)

    async def _launch(self, sha: str) -> str:
        # The attempt row before the first rendition: submitted first, an API killed between
        # launch and record left a preview queued for good (tests/faults/test_api_kill.py).
        attempt = await self._db(lambda s: previews.queue_attempt(s, sha), priority=True)
        if self.settings.preview_first_play:
            await self._start_first_rendition(sha)
        if await launcher.pool_has_live_worker(self.prefect, self.settings.gpu_work_pool):
            # "auto" lets the flow fall back to libx264 if NVENC fails on that worker.
            deployment, encoder = self.settings.preview_gpu_deployment, "auto"
        else:
            deployment, encoder = self.settings.preview_cpu_deployment, "cpu"
        run = await launcher.launch(
            self.prefect,
            deployment,
            {"sha256": sha, "encoder": encoder},
            launcher.preview_key_base(sha),
            first_attempt=attempt,
            tags=["preview", launcher.sha_tag(sha)],
        )
        run_id = str(run.id)
        await self._db(lambda s: previews.attach_run(s, sha, attempt, run_id), priority=True)
        return run_id

    async def _start_first_rendition(self, sha: str) -> None:
        """Hand the first rendition to a running task worker; the deployment launched next
        is the backstop, so a failure here only costs speed, never the preview."""
        try:
            await run_in_threadpool(publish_first_rendition.delay, sha)
        except Exception as exc:  # Prefect unreachable, storage misconfigured…
            logger.warning("first rendition of %s not submitted: %s", sha[:12], exc)

    async def _check_run(self, sha: str, snapshot: PreviewSnapshot) -> Liveness:
        """Ask Prefect about the row's run; a dead or finished one fails the row (with why),
        and a stalled one is marked Crashed in Prefect too, so the UI says what we decided."""
        flow_run_id = str(snapshot.flow_run_id)
        run = await launcher.read_run(self.prefect, UUID(flow_run_id))
        state = run.state if run is not None else None
        lost_worker = None
        if run is not None and state is not None and not state.is_final():
            lost_worker = await launcher.lost_worker_of(self.prefect, run)
        now = datetime.now(UTC)
        liveness = judge_run(
            state.type.value if state is not None else None,
            age_s(snapshot.updated_at, now),
            self.settings.preview_stall_s,
            age_s(state.timestamp, now) if state is not None else math.inf,
            worker_lost=lost_worker is not None,
        )
        if liveness == Liveness.ALIVE:
            return liveness
        failed_at = now
        if run is None or state is None:
            message = f"flow run {flow_run_id} no longer exists"
        elif not state.is_final():
            message = (
                f"flow run {flow_run_id}: its worker {lost_worker} stopped heartbeating; retrying"
                if lost_worker is not None
                else f"flow run {flow_run_id} made no progress for "
                f"{self.settings.preview_stall_s:.0f} s (its worker is gone?); retrying"
            )
            await launcher.mark_crashed(self.prefect, run.id, message)
        else:
            described = launcher.describe_state(run)
            reason = public_reason(
                described["error"] or "it ended without marking the preview ready"
            )
            message = f"flow run {flow_run_id} {described['state']}: {reason}"
            failed_at = state.timestamp or now
        await self._db(lambda s: previews.mark_run_failed(s, sha, flow_run_id, message, failed_at))
        return liveness

    def _answer(self, sha: str, snapshot: PreviewSnapshot, verdict: Verdict) -> Outcome:
        if verdict.action == Action.READY:
            url = manifest_url(self.settings.edge_url, sha)
            return Outcome(True, {"status": PreviewStatus.READY, "manifest_url": url})
        if verdict.action == Action.BACKING_OFF:
            body = self._accepted(
                PreviewStatus.FAILED, snapshot.flow_run_id, verdict.retry_after_s
            ).body
            return Outcome(False, {**body, "error": snapshot.error})
        status = snapshot.status if snapshot.status in ACTIVE else PreviewStatus.QUEUED
        return self._accepted(status, snapshot.flow_run_id)

    def _accepted(
        self, status: PreviewStatus, flow_run_id: str | None, retry_after: int = 0
    ) -> Outcome:
        retry_after_s = retry_after or self.settings.preview_retry_after_s
        return Outcome(
            False, {"status": status, "flow_run_id": flow_run_id, "retry_after_s": retry_after_s}
        )
