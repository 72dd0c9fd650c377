"""The one place that makes each client: S3, SQLAlchemy engine/sessions, Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from dailies.settings import Settings, get_settings

if TYPE_CHECKING:
    import redis
    import redis.asyncio


def s3_client(settings: Settings | None = None) -> Any:
    settings = settings or get_settings()
    return _s3_client(settings.s3_endpoint_url, settings.aws_region, READ_TIMEOUT_S)


def s3_copy_client(settings: Settings | None = None) -> Any:
    """For server-side copies (CopyObject, UploadPartCopy): the store answers only once it
    has copied the bytes, which takes a 512 MiB part longer than the usual read timeout on a
    busy store (RGW: over 60 s), and each timed-out try copied the part again."""
    settings = settings or get_settings()
    return _s3_client(settings.s3_endpoint_url, settings.aws_region, settings.copy_timeout_s)


READ_TIMEOUT_S = 60.0  # botocore's own default


@lru_cache(maxsize=8)
def _s3_client(endpoint_url: str | None, region: str, read_timeout_s: float) -> Any:
    config = Config(
        read_timeout=read_timeout_s,
        # "adaptive" backs off on throttling (SlowDown/503) as well as 5xx.
        retries={"max_attempts": 5, "mode": "adaptive"},
        max_pool_connections=64,
        s3={"addressing_style": "path"},
        # Presigned URLs default to legacy SigV2, which AWS no longer accepts in newer
        # regions; SigV4 also binds the URL to its key, upload id and part number.
        signature_version="s3v4",
        # Checksums only when an operation requires one: moto and some S3-compatible
        # stores reject the newer default trailing checksums on presigned/multipart calls.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


def engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = settings.resolved_database_url
    if url not in _engines:
        _engines[url] = _make_engine(url)
    return _engines[url]


_engines: dict[str, Engine] = {}


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        from pathlib import Path

        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        eng = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the API read while a flow writes; foreign keys are off by default.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return eng
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def session_factory(settings: Settings | None = None) -> sessionmaker[Session]:
    return sessionmaker(engine(settings), expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.
    Reads use it too; committing a read-only transaction costs nothing."""
    with session_factory(settings)() as session, session.begin():
        yield session


POOL_WAIT_S = 30.0  # how long a request waits for one of the pool's connections


def async_redis_client(settings: Settings, timeout_s: float = 5.0) -> redis.asyncio.Redis | None:
    """A new asyncio Redis client for one event loop (the API holds one for its lifetime).

    Not cached: an asyncio connection pool must not be shared across event loops.
    """
    if not settings.redis_url:
        return None
    import redis.asyncio

    # Blocking pool: a burst of requests waits for a connection instead of failing with
    # MaxConnectionsError once the (default 100) pool is exhausted. The wait for a free
    # connection is a symptom of load, not of an outage (the socket timeouts catch that), so
    # it is bounded far more loosely: at 5 s, 200 long-poll requests on a busy 2-core box
    # found no connection and the rate limiter failed open for them (CI, test_long_poll).
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=64,
        timeout=POOL_WAIT_S,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
    )
    return redis.asyncio.Redis.from_pool(pool)  # the client owns (and closes) the pool


def s3_probe_client(settings: Settings, timeout_s: float = 3.0) -> Any:
    """An S3 client that fails fast: one attempt, short timeouts (readiness checks)."""
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        s3={"addressing_style": "path"},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.aws_region, config=config
    )


def reset_clients() -> None:
    """Forget cached clients and settings (tests and `dailies up` re-point the environment)."""
    get_settings.cache_clear()
    _s3_client.cache_clear()
    for eng in _engines.values():
        eng.dispose()
    _engines.clear()
