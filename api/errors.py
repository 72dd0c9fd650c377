"""dailies.errors types → HTTP status, in one place. Always JSON `{"detail": ...}`.

A dependency that does not answer is a 503 naming it; anything else reaching the client
as a 5xx is a bug.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import redis.exceptions
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prefect.exceptions import ObjectNotFound
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.json_body import json_safe
from dailies import errors
from dailies.storage.objects import error_code

logger = logging.getLogger("dailies.api")

# Most specific first: the first matching type decides.
STATUS_BY_ERROR: list[tuple[type[errors.DailiesError], int]] = [
    (errors.UploadTooLarge, 413),
    (errors.InvalidRequest, 422),
    (errors.NotFound, 404),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.RateLimited, 429),
    (errors.ContentMismatch, 422),
    (errors.UnplayableMaster, 422),
    (errors.DependencyUnavailable, 503),
    (errors.DailiesError, 400),
]


def status_for(exc: errors.DailiesError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            return status
    return 400


def _json(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def dailies_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DailiesError)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, errors.DependencyUnavailable):
        headers["Retry-After"] = "5"
    return _json(status_for(exc), str(exc), headers)


async def invalid_input(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, made safe to send: it quotes the input, which may be what JSON cannot
    write (a NaN, a lone surrogate) when it came from anywhere but a strict body."""
    assert isinstance(exc, RequestValidationError)
    return _json(422, json_safe(jsonable_encoder(exc.errors())))


def _unavailable(dependency: str, exc: Exception) -> JSONResponse:
    logger.warning("%s unavailable: %r", dependency, exc)
    return _json(
        503, f"{dependency} unavailable: {type(exc).__name__}", headers={"Retry-After": "5"}
    )


async def redis_down(_: Request, exc: Exception) -> JSONResponse:
    return _unavailable("redis", exc)


async def database_down(_: Request, exc: Exception) -> JSONResponse:
    return _unavailable("database", exc)


async def s3_error(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ClientError) and error_code(exc) in {"AccessDenied", "InvalidAccessKeyId"}:
        logger.error("S3 refused the API's credentials: %s", exc)
    return _unavailable("s3", exc)


async def prefect_error(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ObjectNotFound):
        # A deployment the API launches is not registered: an operator's step is missing.
        return _json(503, "prefect deployment not found; run `dailies bootstrap`")
    return _unavailable("prefect", exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DailiesError, dailies_error)
    app.add_exception_handler(RequestValidationError, invalid_input)
    app.add_exception_handler(redis.exceptions.ConnectionError, redis_down)
    app.add_exception_handler(redis.exceptions.TimeoutError, redis_down)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(PoolTimeout, database_down)
    app.add_exception_handler(BotoCoreError, s3_error)
    app.add_exception_handler(ClientError, s3_error)
    app.add_exception_handler(httpx.TransportError, prefect_error)
    app.add_exception_handler(httpx.HTTPStatusError, prefect_error)
    app.add_exception_handler(ObjectNotFound, prefect_error)
