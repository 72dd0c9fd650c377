"""Preview trigger (the edge's 404 path) and preview status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from api.auth import Reviewer
from api.deps import DbRunnerDep, ManifestWatchDep, PrefectDep, SettingsDep, SingleFlightDep
from api.preview_trigger import PreviewTrigger
from api.schemas import (
    AUTH_ERRORS,
    PreviewAccepted,
    PreviewReady,
    PreviewStatus,
    error_responses,
)
from api.schemas import PreviewTrigger as PreviewTriggerBody
from dailies.db import previews
from dailies.db.previews import PreviewStatus as Status
from dailies.errors import UnknownMaster
from dailies.hashing import normalize_sha256
from dailies.preview_rules import manifest_url, snapshot_of

router = APIRouter(prefix="/api/preview", tags=["previews"])


def get_trigger(
    settings: SettingsDep,
    db: DbRunnerDep,
    single_flight: SingleFlightDep,
    prefect: PrefectDep,
) -> PreviewTrigger:
    return PreviewTrigger(settings, db, single_flight, prefect)


@router.post(
    "",
    response_model=PreviewReady,
    responses={
        202: {"model": PreviewAccepted, "description": "being built; ask again later"},
        **error_responses(404, *AUTH_ERRORS),
    },
)
async def trigger_preview(
    body: PreviewTriggerBody,
    _: Reviewer,
    trigger: Annotated[PreviewTrigger, Depends(get_trigger)],
    watch: ManifestWatchDep,
    settings: SettingsDep,
) -> Any:
    """Make sure a preview of this master exists or is being built (single-flight).

    With `wait_s`, a build in progress is answered once its manifest is playable (the first
    rendition), or after `wait_s` (capped by the server), whichever comes first."""
    sha = normalize_sha256(body.sha)
    outcome = await trigger.trigger(sha)
    if outcome.ready:
        return JSONResponse(outcome.body, status_code=200)
    answer = dict(outcome.body)
    if answer["status"] != Status.FAILED and await watch.wait(sha, body.wait_s):
        answer.update(playable=True, manifest_url=manifest_url(settings.edge_url, sha))
    retry_after = str(answer["retry_after_s"])
    return JSONResponse(answer, status_code=202, headers={"Retry-After": retry_after})


@router.get(
    "/{sha}",
    response_model=PreviewStatus,
    responses=error_responses(404, *AUTH_ERRORS),
)
async def preview_status(
    sha: Annotated[str, Path(max_length=200)],
    _: Reviewer,
    db: DbRunnerDep,
    settings: SettingsDep,
) -> PreviewStatus:
    """The preview's status from the previews row (missing when none was ever queued)."""
    sha = normalize_sha256(sha)

    exists, row = await db(lambda session: previews.load_with_master(session, sha))
    if not exists:
        raise UnknownMaster(f"no master with sha256 {sha}")
    snapshot = snapshot_of(row)
    status = snapshot.status
    return PreviewStatus(
        status=status,
        progress=snapshot.progress,
        error=snapshot.error,
        flow_run_id=snapshot.flow_run_id,
        attempts=snapshot.attempts,
        manifest_url=manifest_url(settings.edge_url, sha) if status == Status.READY else None,
    )
