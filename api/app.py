"""The FastAPI app: `create_app()` for tests and embedding, `app` for `uvicorn api.app:app`."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from anyio import CapacityLimiter
from fastapi import FastAPI
from prefect.client.orchestration import PrefectClient

from api.auth import TokenCache
from api.body_limit import BodyLimit
from api.deps import PrefectHandle, build_limits
from api.errors import install_error_handlers
from api.multivariant_watch import MultivariantWatch
from api.routes import (
    audits,
    documents,
    health,
    masters,
    notes,
    notes_approvals,
    notes_exports,
    previews,
    promotions,
    uploads,
)
from dailies.clients import async_redis_client, s3_client
from dailies.fleet_rules import single_host_settings
from dailies.grant_secret import grant_secret
from dailies.previews import lifecycle, liveness
from dailies.run_names import name_forever
from dailies.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None,
    prefect_factory: Callable[[], PrefectClient] | None = None,
) -> FastAPI:
    """An app bound to `settings` (default: the environment's).

    Clients that belong to an event loop (asyncio Redis, the Prefect client) are made in
    the lifespan, on the loop that serves requests.
    """
    bound = settings or get_settings()
    # One of several hosts (Prefect is elsewhere) with a setting only one machine can use:
    # refuse to start, one line per setting, before anything connects.
    if problems := single_host_settings(bound, os.environ):
        raise SystemExit("dailies API not started: " + "\n".join(problems))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = async_redis_client(bound)
        app.state.redis = redis
        app.state.rate_limiter, app.state.single_flight = build_limits(bound, redis)
        app.state.prefect = PrefectHandle(prefect_factory)
        app.state.token_cache = TokenCache(bound.auth_cache_ttl_s)
        app.state.db_limiter = CapacityLimiter(bound.api_db_concurrency)
        app.state.background = set()  # triggers finishing after their answer went out
        app.state.grant_secret = grant_secret(bound)  # signs preview grants (previews.py)
        app.state.multivariant_watch = MultivariantWatch(
            lambda sha: lifecycle.multivariant_published(s3_client(bound), bound, sha),
            max_wait_s=bound.preview_wait_s,
        )
        loops = []  # this replica's share of the housekeeping, while it serves
        if bound.preview_sweep_interval_s > 0:
            loops.append(liveness.sweep_forever(app.state.prefect.get, bound))
        if bound.run_naming_interval_s > 0:
            loops.append(name_forever(app.state.prefect.get, bound.run_naming_interval_s))
        running = [asyncio.ensure_future(loop) for loop in loops]
        try:
            yield
        finally:
            for task in running:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.multivariant_watch.close()
            await app.state.prefect.close()
            if redis is not None:
                await redis.aclose()

    app = FastAPI(
        title="dailies",
        version="0.1.0",
        summary="Uploads, promotions and preview triggers for the dailies media pipeline.",
        lifespan=lifespan,
    )
    app.state.settings = bound
    app.add_middleware(BodyLimit)
    install_error_handlers(app)
    notes_routers = (notes, notes_exports, notes_approvals)
    routers = (uploads, promotions, masters, previews, documents, *notes_routers, audits, health)
    for module in routers:
        app.include_router(module.router)
    return app


# For `uvicorn api.app:app`: building an app reads settings and connects to nothing.
app = create_app()
