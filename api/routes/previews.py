"""Preview trigger (the edge's 404 path) and preview status."""

from __future__ import annotations

import asyncio
import logging
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from api.auth import Reviewer
from api.deps import DbRunnerDep, MultivariantWatchDep, PrefectDep, SettingsDep, SingleFlightDep
from api.json_body import StrictJsonRoute
from api.multivariant_watch import MultivariantWatch
from api.preview_trigger import Outcome, PreviewTrigger
from api.schemas import (
    AUTH_ERRORS,
    PreviewAcceptedOut,
    PreviewReadyOut,
    PreviewStatusOut,
    PreviewTriggerBody,
    error_responses,
)
from dailies.db import previews
from dailies.db.previews import PreviewStatus
from dailies.errors import DailiesError, UnknownMaster
from dailies.grant_rules import Grant, grant_cookie, issue_grant
from dailies.hashing import normalize_sha256
from dailies.preview_rules import manifest_url, snapshot_of
from dailies.settings import Settings

router = APIRouter(prefix="/api/preview", tags=["previews"], route_class=StrictJsonRoute)
logger = logging.getLogger("dailies.api")


def get_trigger(
    settings: SettingsDep,
    db: DbRunnerDep,
    single_flight: SingleFlightDep,
    prefect: PrefectDep,
) -> PreviewTrigger:
    return PreviewTrigger(settings, db, single_flight, prefect)


@router.post(
    "",
    response_model=PreviewReadyOut,
    responses={
        202: {"model": PreviewAcceptedOut, "description": "being built; ask again later"},
        **error_responses(404, *AUTH_ERRORS),
    },
)
async def trigger_preview(
    request: Request,
    body: PreviewTriggerBody,
    _: Reviewer,
    trigger: Annotated[PreviewTrigger, Depends(get_trigger)],
    watch: MultivariantWatchDep,
    settings: SettingsDep,
) -> Any:
    """Make sure a preview of this master exists or is being built (single-flight), and
    grant the caller watching it: a cookie for /previews/{sha}/ (and `grant` in the body
    for clients without cookies, as ?grant=) that the edge checks for every object.

    With `wait_s`, a build in progress is answered once its multivariant playlist is playable
    (the first rendition), or after `wait_s` (capped by the server), whichever comes first."""
    sha = normalize_sha256(body.sha)
    answer, ready = await _trigger(request, sha, body, trigger, watch, settings)
    return _with_grant(answer, ready, sha, request, settings)


async def _trigger(
    request: Request,
    sha: str,
    body: PreviewTriggerBody,
    trigger: PreviewTrigger,
    watch: MultivariantWatch,
    settings: Settings,
) -> tuple[dict[str, Any], bool]:
    """The answer, and whether it is the 200 (ready) one."""
    # The trigger (claim, row, first rendition, then the deployment launch) and the wait for
    # a playable multivariant playlist run side by side: the first rendition is often playable
    # before the ladder's flow run is even created, and the reviewer must not wait for that.
    launching = _keep_running(request, trigger.trigger(sha))
    waiting = asyncio.ensure_future(watch.wait(sha, body.wait_s)) if body.wait_s else None
    await asyncio.wait({launching, *([waiting] if waiting else [])}, return_when=FIRST_COMPLETED)
    if waiting is not None and waiting.done() and waiting.result():
        answer: dict[str, Any] = {"status": PreviewStatus.BUILDING, "flow_run_id": None}
        if launching.done() and not launching.exception():
            answer.update(launching.result().body)
        answer.update(
            playable=True,
            manifest_url=manifest_url(settings.edge_url, sha),
            retry_after_s=settings.preview_retry_after_s,
        )
        return answer, False
    outcome = await launching  # raises UnknownMaster & co. as before
    if outcome.ready:
        if waiting is not None:
            waiting.cancel()
        return dict(outcome.body), True
    answer = dict(outcome.body)
    if answer["status"] == PreviewStatus.FAILED:
        if waiting is not None:
            waiting.cancel()
    # Without wait_s, one look once the trigger has answered (never raced with it: a ready
    # preview's answer is the 200, not a "building" one that only saw its playlist first).
    elif await (waiting if waiting is not None else watch.wait(sha, 0)):
        answer.update(playable=True, manifest_url=manifest_url(settings.edge_url, sha))
    return answer, False


def _with_grant(
    answer: dict[str, Any], ready: bool, sha: str, request: Request, settings: Settings
) -> JSONResponse:
    """200 when ready, else 202 with Retry-After; either way with a fresh grant (only a
    known master gets here: UnknownMaster was raised before)."""
    grant, cookie = _grant(sha, request, settings)
    answer = {**answer, "grant": grant.value, "grant_expires_at": grant.expires}
    headers = {"Set-Cookie": cookie}
    if ready:
        return JSONResponse(answer, status_code=200, headers=headers)
    headers["Retry-After"] = str(answer["retry_after_s"])
    return JSONResponse(answer, status_code=202, headers=headers)


def _grant(sha: str, request: Request, settings: Settings) -> tuple[Grant, str]:
    """A fresh grant for watching this sha at the edge, and its Set-Cookie value."""
    ttl_s = settings.preview_grant_ttl_s
    grant = issue_grant(request.app.state.grant_secret, sha, time.time(), ttl_s)
    secure = settings.edge_url.startswith("https:")
    return grant, grant_cookie(grant, sha, ttl_s, secure)


def _keep_running(request: Request, work: Coroutine[Any, Any, Outcome]) -> asyncio.Task[Outcome]:
    """A task that finishes even when the answer goes out first: a holder that has claimed
    the sha must launch and publish the run for everyone waiting on it."""
    task = asyncio.ensure_future(work)
    running: set[asyncio.Task[Any]] = request.app.state.background
    running.add(task)
    task.add_done_callback(running.discard)
    task.add_done_callback(_log_failure)
    return task


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if not isinstance(exc, DailiesError):
            logger.error("preview trigger failed after the answer: %r", exc)


@router.get(
    "/{sha}",
    response_model=PreviewStatusOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
async def preview_status(
    sha: Annotated[str, Path(max_length=200)],
    _: Reviewer,
    db: DbRunnerDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> PreviewStatusOut:
    """The preview's status from the previews row (missing when none was ever queued), with
    a fresh grant cookie for /previews/{sha}/, as POST's answer has: a page that asks this
    beside its long poll shows the poster (made at promotion) without waiting for a build."""
    sha = normalize_sha256(sha)

    exists, row = await db(lambda session: previews.load_with_master(session, sha))
    if not exists:
        raise UnknownMaster(f"no master with sha256 {sha}")
    snapshot = snapshot_of(row)
    ready = snapshot.status == PreviewStatus.READY
    response.headers["Set-Cookie"] = _grant(sha, request, settings)[1]
    return PreviewStatusOut(
        status=snapshot.status,
        progress=snapshot.progress,
        error=snapshot.error,
        flow_run_id=snapshot.flow_run_id,
        attempts=snapshot.attempts,
        manifest_url=manifest_url(settings.edge_url, sha) if ready else None,
    )
