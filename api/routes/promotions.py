"""Promotions: launch the promotion deployment, report its run."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import launcher
from api.auth import Editor
from api.deps import DbRunnerDep, PrefectDep, S3Dep, SettingsDep
from api.schemas import (
    AUTH_ERRORS,
    PromotionCreate,
    PromotionStarted,
    PromotionStatus,
    error_responses,
)
from dailies import upload_rules
from dailies.db import masters
from dailies.errors import InvalidRequest, NotFound
from dailies.promotion_rules import validate_promotion_request
from dailies.storage.staging import head_staging

router = APIRouter(prefix="/api/promotions", tags=["promotions"])


def _check_asset(asset: dict[str, Any] | None) -> None:
    if asset is None:
        return
    asset_id = asset.get("asset_id")
    if asset_id is not None and (not isinstance(asset_id, str) or not 0 < len(asset_id) <= 255):
        raise InvalidRequest("asset.asset_id must be a string of 1 to 255 characters")


@router.post(
    "",
    status_code=202,
    response_model=PromotionStarted,
    responses=error_responses(404, *AUTH_ERRORS),
)
async def start_promotion(
    body: PromotionCreate, _: Editor, s3: S3Dep, settings: SettingsDep, prefect: PrefectDep
) -> PromotionStarted:
    """Launch the promotion of an uploaded object; the same request twice is one run."""
    request = validate_promotion_request(body.staging_key, body.sha256)
    upload_id = request.staging_key.split("/")[1]
    upload_rules.check_upload_key(upload_id, request.staging_key)  # only keys this API issued
    _check_asset(body.asset)
    await run_in_threadpool(head_staging, s3, settings.staging_bucket, request.staging_key)
    run = await launcher.launch(
        prefect,
        settings.promote_deployment,
        {"staging_key": request.staging_key, "sha256": request.sha256, "asset": body.asset},
        launcher.promotion_key_base(request.sha256, request.staging_key),
        tags=["promotion", launcher.sha_tag(request.sha256)],
    )
    return PromotionStarted(flow_run_id=str(run.id), sha256=request.sha256)


@router.get(
    "/{flow_run_id}",
    response_model=PromotionStatus,
    responses=error_responses(404, *AUTH_ERRORS),
)
async def promotion_status(
    flow_run_id: UUID, _: Editor, db: DbRunnerDep, settings: SettingsDep, prefect: PrefectDep
) -> Any:
    """The run's state; the masters row once it completed; Prefect's message if it failed."""
    run = await launcher.read_run(prefect, flow_run_id)
    if run is not None:
        deployment = await prefect.read_deployment_by_name(settings.promote_deployment)
        if run.deployment_id != deployment.id:
            run = None
    if run is None:
        raise NotFound(f"no promotion run {flow_run_id}")
    described = launcher.describe_state(run)
    result = None
    if described["state"] == "completed":
        result = await db(lambda session: masters.promotion_result(session, str(run.id)))
    body = PromotionStatus(**described, result=result)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True))
