"""When Prefect should retry a task: trouble that passes (a throttled or unreachable
service, ffmpeg killed from outside) yes; anything else never. Our own typed errors say the
input or the request is wrong, and an unknown exception is a bug: running either again only
delays the failure (and holds the sha's build lock while it waits)."""

from __future__ import annotations

from typing import Any

import redis.exceptions
import sqlalchemy.exc
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from prefect.tasks import exponential_backoff

from dailies.errors import DailiesError, Transient

RETRY_DELAYS = exponential_backoff(backoff_factor=2)


def transient_retries(retries: int) -> dict[str, Any]:
    """A task's retry options: up to `retries` more attempts, backing off, for transient
    trouble only (`@task(**transient_retries(3))`)."""
    return {
        "retries": retries,
        "retry_delay_seconds": RETRY_DELAYS,
        "retry_condition_fn": retry_transient,
    }


# Each of these means "the other side did not answer this time", never "the request is bad".
_TRANSIENT: tuple[type[BaseException], ...] = (
    BotoConnectionError,  # endpoint unreachable, connect timeout, proxy
    HTTPClientError,  # botocore's read timeout, connection closed mid-response
    Transient,  # ours: e.g. ffmpeg/ffprobe killed by a signal (OOM killer, shutdown)
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,  # database gone, connection dropped, serialization
    sqlalchemy.exc.DisconnectionError,
    # Refused, reset, broken pipe; not other OSErrors (a missing file, a full disk).
    ConnectionError,
    TimeoutError,
)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry transient trouble only; never our own typed errors, S3's 4xx or a bug."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - classified, not swallowed
        return is_transient(exc)
    return False


def is_transient(exc: BaseException) -> bool:
    """Whether `exc`, or what it wraps (boto3's S3UploadFailedError wraps a ClientError),
    is trouble that a later attempt may not meet."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DailiesError):
            return isinstance(current, Transient)
        if isinstance(current, ClientError):
            return is_transient_s3_error(current)
        if isinstance(current, _TRANSIENT):
            return True
        current = current.__cause__ or current.__context__
    return False


_THROTTLING = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
}


def is_transient_s3_error(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return status >= 500 or status == 429 or code in _THROTTLING
