"""Promotions: launch the promotion deployment, report its run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.auth import Editor, Principal
from api.deps import DbRunnerDep, PrefectDep, S3Dep, SettingsDep
from api.json_body import StrictJsonRoute
from api.schemas import (
    AUTH_ERRORS,
    PromotionCreateBody,
    PromotionStartedOut,
    PromotionStatusOut,
    error_responses,
)
from dailies import runs, upload_rules
from dailies.db import masters, uploads
from dailies.db.uploads import UploadState
from dailies.errors import Forbidden, InvalidRequest, NotFound, RateLimited, UploadNotFound
from dailies.promotion_rules import (
    ADMIN_FLAG,
    OWNER_KEY,
    PromotionRequest,
    retry_wait_s,
    validate_promotion_request,
)
from dailies.settings import Settings
from dailies.storage.staging import head_staging

router = APIRouter(prefix="/api/promotions", tags=["promotions"], route_class=StrictJsonRoute)


def _check_asset(asset: dict[str, Any] | None) -> None:
    if asset is None:
        return
    asset_id = asset.get("asset_id")
    if asset_id is not None and (not isinstance(asset_id, str) or not 0 < len(asset_id) <= 255):
        raise InvalidRequest("asset.asset_id must be a string of 1 to 255 characters")


@router.post(
    "",
    status_code=202,
    response_model=PromotionStartedOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
async def start_promotion(
    body: PromotionCreateBody,
    editor: Editor,
    s3: S3Dep,
    settings: SettingsDep,
    prefect: PrefectDep,
    db: DbRunnerDep,
) -> PromotionStartedOut:
    """Launch the promotion of an uploaded object; the same request twice is one run."""
    request = validate_promotion_request(body.staging_key, body.sha256)
    upload_id = request.staging_key.split("/")[1]
    upload_rules.check_upload_key(upload_id, request.staging_key)  # only keys this API issued
    _check_asset(body.asset)
    await db(lambda session: _may_promote(session, settings, request, editor, body.asset))
    await run_in_threadpool(head_staging, s3, settings.staging_bucket, request.staging_key)
    # Who asks goes with the run, never from the client: the flow checks it again where it
    # writes the link (another editor may link the same id while this run waits).
    caller = {OWNER_KEY: editor.key_id, ADMIN_FLAG: editor.role == "admin"}
    asset = {**body.asset, **caller} if body.asset else None
    run = await runs.launch(
        prefect,
        settings.promote_deployment,
        {"staging_key": request.staging_key, "sha256": request.sha256, "asset": asset},
        runs.promotion_key_base(request.sha256, request.staging_key),
        tags=["promotion", runs.sha_tag(request.sha256)],
        name=runs.promotion_run_name(request.sha256),
    )
    return PromotionStartedOut(flow_run_id=str(run.id), sha256=request.sha256)


def _may_promote(
    session: Session,
    settings: Settings,
    request: PromotionRequest,
    editor: Principal,
    asset: dict[str, Any] | None,
) -> None:
    """Only a completed upload this API presigned, by its owner (or an admin); an asset is
    repointed only by its owner; a failed promotion is not re-run at once."""
    upload = uploads.upload_for_key(session, request.staging_key)
    if upload is None:
        raise UploadNotFound(
            f"no upload of {request.staging_key}: only keys POST /api/uploads issued can be "
            "promoted"
        )
    if not upload_rules.may_act_on(upload.owner_key_id, editor.key_id, editor.role):
        raise Forbidden("this upload belongs to another editor")
    if upload.state != UploadState.COMPLETED:
        raise InvalidRequest(f"the upload is {upload.state}: complete it before promoting")
    if asset and isinstance(asset.get("asset_id"), str):
        exists, owner = masters.asset_owner(session, asset["asset_id"])
        if exists and not upload_rules.may_act_on(owner, editor.key_id, editor.role):
            raise Forbidden(f"asset {asset['asset_id']!r} belongs to another editor")
    failures, last = masters.failed_attempts(session, request.staging_key, request.sha256)
    wait = retry_wait_s(
        failures,
        last,
        datetime.now(UTC),
        settings.promotion_retry_base_s,
        settings.promotion_retry_max_s,
    )
    if wait:
        raise RateLimited(wait)


@router.get(
    "/{flow_run_id}",
    response_model=PromotionStatusOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
async def promotion_status(
    flow_run_id: UUID, _: Editor, db: DbRunnerDep, settings: SettingsDep, prefect: PrefectDep
) -> Any:
    """The run's state; the masters row once it completed; Prefect's message if it failed."""
    run = await runs.read_run(prefect, flow_run_id)
    if run is not None:
        deployment = await prefect.read_deployment_by_name(settings.promote_deployment)
        if run.deployment_id != deployment.id:
            run = None
    if run is None:
        raise NotFound(f"no promotion run {flow_run_id}")
    described = runs.describe_state(run)
    result = None
    if described["state"] == "completed":
        result = await db(lambda session: masters.promotion_result(session, str(run.id)))
    body = PromotionStatusOut(**described, result=result)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True))
