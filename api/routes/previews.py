"""Preview trigger (the edge's 404 path) and preview status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from api import preview_store
from api.auth import Reviewer
from api.deps import DbRunnerDep, PrefectDep, SettingsDep, SingleFlightDep
from api.preview_rules import manifest_url
from api.preview_trigger import PreviewTrigger
from api.schemas import (
    AUTH_ERRORS,
    PreviewAccepted,
    PreviewReady,
    PreviewStatus,
    error_responses,
)
from api.schemas import PreviewTrigger as PreviewTriggerBody
from dailies.errors import UnknownMaster
from dailies.hashing import normalize_sha256

router = APIRouter(prefix="/api/preview", tags=["previews"])
STATUSES: dict[str, Literal["missing", "queued", "building", "ready", "failed"]] = {
    "missing": "missing",
    "queued": "queued",
    "building": "building",
    "ready": "ready",
    "failed": "failed",
}


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
) -> Any:
    """Make sure a preview of this master exists or is being built (single-flight)."""
    sha = normalize_sha256(body.sha)
    outcome = await trigger.trigger(sha)
    if outcome.ready:
        return JSONResponse(outcome.body, status_code=200)
    retry_after = str(outcome.body["retry_after_s"])
    return JSONResponse(outcome.body, status_code=202, headers={"Retry-After": retry_after})


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

    exists, snapshot = await db(lambda session: preview_store.load(session, sha))
    if not exists:
        raise UnknownMaster(f"no master with sha256 {sha}")
    # A status this API does not know yet (a newer flow) reads as still in progress.
    status = STATUSES.get(snapshot.status or "missing", "queued")
    return PreviewStatus(
        status=status,
        progress=snapshot.progress,
        error=snapshot.error,
        flow_run_id=snapshot.flow_run_id,
        attempts=snapshot.attempts,
        manifest_url=manifest_url(settings.edge_url, sha) if status == "ready" else None,
    )
