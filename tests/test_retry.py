"""Which failures Prefect retries: S3 throttling and 5xx yes; 4xx and our own errors never."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from prefect.states import Failed

from dailies.errors import ChecksumMismatch, InvalidSha256
from tasks.retry import is_transient_s3_error, retry_transient


def client_error(status: int, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "CopyObject",
    )


@pytest.mark.parametrize(
    "status, code, transient",
    [
        (503, "SlowDown", True),
        (500, "InternalError", True),
        (429, "TooManyRequests", True),
        (400, "RequestTimeout", True),
        (403, "AccessDenied", False),
        (404, "NoSuchKey", False),
        (412, "PreconditionFailed", False),
    ],
)
def test_s3_errors_are_classified(status: int, code: str, transient: bool) -> None:
    assert is_transient_s3_error(client_error(status, code)) is transient


@pytest.mark.parametrize(
    "exc, retried",
    [
        (client_error(503, "SlowDown"), True),
        (client_error(412, "PreconditionFailed"), False),
        (EndpointConnectionError(endpoint_url="http://s3"), True),
        (ChecksumMismatch("a" * 64, "b" * 64, "uploads/x"), False),
        (InvalidSha256("nope"), False),
    ],
)
def test_retry_condition(exc: Exception, retried: bool) -> None:
    assert retry_transient(None, None, Failed(data=exc)) is retried
