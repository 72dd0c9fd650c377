"""Liveness and readiness. Readiness names each dependency that is down; never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import PrefectHandle, PrefectHandleDep, RedisDep, SettingsDep
from api.schemas import HealthOut, NotReadyOut, ReadinessOut
from dailies.clients import s3_probe_client, session_scope

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 3.0


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """The process answers; says nothing about its dependencies."""
    return HealthOut(status="ok")


async def _check(awaitable: Awaitable[Any]) -> str:
    try:
        await asyncio.wait_for(awaitable, CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"down: no answer within {CHECK_TIMEOUT_S:g}s"
    except Exception as exc:  # any failure of a probe is that dependency being down
        return f"down: {type(exc).__name__}: {str(exc)[:200]}"
    return "ok"


async def _prefect_health(handle: PrefectHandle) -> None:
    client = await handle.get()
    problem = await client.api_healthcheck()
    if problem is not None:
        raise problem


@router.get(
    "/readyz",
    response_model=ReadinessOut,
    responses={503: {"model": NotReadyOut, "description": "names the dependencies that are down"}},
)
async def readyz(settings: SettingsDep, redis: RedisDep, prefect: PrefectHandleDep) -> Any:
    """Database, Redis, S3 and the Prefect API, probed concurrently with short timeouts."""

    def database() -> None:
        with session_scope(settings) as session:
            session.execute(text("SELECT 1"))

    def s3() -> None:
        s3_probe_client(settings).head_bucket(Bucket=settings.staging_bucket)

    async def redis_ping() -> None:
        if redis is not None:
            await redis.ping()

    names = ["database", "redis", "s3", "prefect"]
    results = await asyncio.gather(
        _check(run_in_threadpool(database)),
        _check(redis_ping()),
        _check(run_in_threadpool(s3)),
        _check(_prefect_health(prefect)),
    )
    checks = dict(zip(names, results, strict=True))
    if redis is None:
        checks["redis"] = "ok (not configured: in-process single-flight and rate limits)"
    down = [name for name, result in checks.items() if not result.startswith("ok")]
    if down:
        return JSONResponse(
            {"detail": f"not ready: {', '.join(down)} down", "checks": checks},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return ReadinessOut(status="ready", checks=checks)
