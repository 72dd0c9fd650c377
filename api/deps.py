"""FastAPI dependencies: every client a route uses comes from here, so tests override
these (app.dependency_overrides) instead of patching internals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import anyio.to_thread
import redis.asyncio
from anyio import CapacityLimiter
from fastapi import Depends, Request
from prefect.client.orchestration import PrefectClient
from sqlalchemy.orm import Session

from api.limits import (
    MemoryRateLimiter,
    MemorySingleFlight,
    RateLimiter,
    RedisRateLimiter,
    RedisSingleFlight,
    SingleFlight,
)
from api.multivariant_watch import MultivariantWatch
from dailies.clients import s3_client, session_scope
from dailies.errors import DependencyUnavailable
from dailies.settings import Settings


class PrefectHandle:
    """One Prefect client for the app's lifetime, entered lazily on the serving loop."""

    def __init__(self, factory: Callable[[], PrefectClient] | None = None) -> None:
        self._factory = factory
        self._client: PrefectClient | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> PrefectClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    from prefect.client.orchestration import get_client

                    client = (self._factory or get_client)()
                    try:
                        await client.__aenter__()
                    except Exception as exc:
                        raise DependencyUnavailable("prefect", str(exc)) from exc
                    self._client = client
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_s3(settings: SettingsDep) -> Any:
    return s3_client(settings)


T = TypeVar("T")


class DbRunner:
    """Runs `work(session)` in a worker thread inside one transaction, at most N at once.

    Async routes use this, so no request holds a pooled connection while it waits on Redis
    or Prefect, and a burst queues here rather than exhausting Postgres connections.
    """

    def __init__(self, settings: Settings, limiter: CapacityLimiter) -> None:
        self.settings, self.limiter = settings, limiter

    async def __call__(self, work: Callable[[Session], T], *, priority: bool = False) -> T:
        """`priority`: skip the queue (the single-flight holder's writes, which every
        follower of a burst is waiting on, must not wait behind their reads)."""

        def run() -> T:
            with session_scope(self.settings) as session:
                return work(session)

        limiter = None if priority else self.limiter
        return await anyio.to_thread.run_sync(run, limiter=limiter)


def get_db_runner(request: Request, settings: SettingsDep) -> DbRunner:
    return DbRunner(settings, request.app.state.db_limiter)


def get_db(settings: SettingsDep) -> Iterator[Session]:
    """For sync routes, which FastAPI already runs in a worker thread."""
    with session_scope(settings) as session:
        yield session


def get_redis(request: Request) -> redis.asyncio.Redis | None:
    return request.app.state.redis  # type: ignore[no-any-return]


def get_prefect_handle(request: Request) -> PrefectHandle:
    return request.app.state.prefect  # type: ignore[no-any-return]


PrefectHandleDep = Annotated[PrefectHandle, Depends(get_prefect_handle)]


async def get_prefect(handle: PrefectHandleDep) -> PrefectClient:
    return await handle.get()


def get_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter  # type: ignore[no-any-return]


def get_multivariant_watch(request: Request) -> MultivariantWatch:
    return request.app.state.multivariant_watch  # type: ignore[no-any-return]


MultivariantWatchDep = Annotated[MultivariantWatch, Depends(get_multivariant_watch)]


def get_single_flight(request: Request) -> SingleFlight:
    return request.app.state.single_flight  # type: ignore[no-any-return]


def build_limits(
    settings: Settings, redis: redis.asyncio.Redis | None
) -> tuple[RateLimiter, SingleFlight]:
    if redis is None:
        return (
            MemoryRateLimiter(settings.rate_limit_requests, settings.rate_limit_window_s),
            MemorySingleFlight(),
        )
    return (
        RedisRateLimiter(redis, settings.rate_limit_requests, settings.rate_limit_window_s),
        RedisSingleFlight(redis),
    )


S3Dep = Annotated[Any, Depends(get_s3)]
DbDep = Annotated[Session, Depends(get_db)]
PrefectDep = Annotated[PrefectClient, Depends(get_prefect)]
RedisDep = Annotated[redis.asyncio.Redis | None, Depends(get_redis)]
SingleFlightDep = Annotated[SingleFlight, Depends(get_single_flight)]
DbRunnerDep = Annotated[DbRunner, Depends(get_db_runner)]
