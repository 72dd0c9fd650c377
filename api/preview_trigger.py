"""The edge's 404 path: turn "no preview here" into at most one preview flow run.

Single-flight is ours (a Redis SET NX claim per sha), not Prefect's: only the holder of the
claim may queue an attempt and create a run; everyone else reads what the holder published.
Prefect's idempotency key (sha + attempt number) is a second guard should a claim expire
mid-launch, or the liveness sweep relaunch at the same moment. Whether a quiet run still
lives is never asked here: that is the sweep's (dailies/previews/liveness.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from prefect.client.orchestration import PrefectClient

from api.deps import DbRunner
from api.limits import PENDING, SingleFlight
from dailies.db import previews
from dailies.db.previews import ACTIVE, PreviewStatus
from dailies.errors import UnknownMaster
from dailies.preview_rules import (
    Action,
    PreviewSnapshot,
    PreviewTiming,
    Verdict,
    decide,
    manifest_url,
    snapshot_of,
)
from dailies.previews import dispatch, lifecycle
from dailies.settings import Settings

WAIT_FOR_HOLDER_S = 2.0
logger = logging.getLogger("dailies.api")
_LINKING: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak references)


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
        if verdict.action != Action.LAUNCH:
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
                if again.action == Action.LAUNCH:
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
        queued = await self._db(lambda s: lifecycle.queue(s, sha), priority=True)
        first = None
        if self.settings.preview_first_rendition:
            first = await self._start_first_rendition(sha, queued.attempt)
        run_id = await dispatch.launch_ladder(self.prefect, self.settings, sha, queued.attempt)
        await self._db(
            lambda s: lifecycle.attach_run(s, sha, queued.attempt, run_id), priority=True
        )
        if first is not None:  # after the answer: a reviewer does not wait for ops' link
            linking = asyncio.ensure_future(self._link(run_id, sha, first))
            _LINKING.add(linking)
            linking.add_done_callback(_LINKING.discard)
        return run_id

    async def _link(self, run_id: str, sha: str, task_run_id: str) -> None:
        try:
            await dispatch.link_first_rendition(self.prefect, run_id, sha, task_run_id)
        except Exception as exc:  # a missing link costs ops a search, not the preview
            logger.warning("first rendition of %s not linked: %s", sha[:12], exc)

    async def _start_first_rendition(self, sha: str, attempt: int) -> str | None:
        """Hand the first rendition to a running task worker (its task run's id); the
        deployment launched next is the backstop, so a failure here only costs speed, never
        the preview."""
        try:
            return await run_in_threadpool(dispatch.submit_first_rendition, sha, attempt)
        except Exception as exc:  # Prefect unreachable, storage misconfigured…
            logger.warning("first rendition of %s not submitted: %s", sha[:12], exc)
            return None

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
