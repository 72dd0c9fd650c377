"""Which failures Prefect retries: S3 throttling and 5xx yes; 4xx and our own errors never."""

from __future__ import annotations

from typing import Any

import pytest
import redis.exceptions
import sqlalchemy.exc
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from prefect.states import Failed

from dailies.errors import (
    ChecksumMismatch,
    EncodeFailed,
    EncodeTimedOut,
    InvalidSha256,
    ProcessKilled,
    UnplayableMaster,
)
from tasks.handback import failed_for_its_host
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
        (ReadTimeoutError(endpoint_url="http://s3"), True),
        (ChecksumMismatch("a" * 64, "b" * 64, "uploads/x"), False),
        (InvalidSha256("nope"), False),
        (ProcessKilled("ffmpeg (HLS ladder) was killed (exit status -9)"), True),
        (redis.exceptions.ConnectionError("connection refused"), True),
        (redis.exceptions.TimeoutError("timed out"), True),
        (sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed")), True),
        (ConnectionResetError("reset by peer"), True),
        (UnplayableMaster("ffprobe cannot read the master"), False),
        (EncodeFailed("mp4 failed (exit status 1)"), False),
        (EncodeTimedOut("ffmpeg (HLS ladder) took longer than its 300 s limit"), False),
        # bugs: running them again only delays the failure
        (KeyError("renditions"), False),
        (FileNotFoundError("storyboard-v1.jpg"), False),
        (AssertionError(), False),
        (ValueError("bad"), False),
        (sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")), False),
    ],
)
def test_retry_condition(exc: Exception, retried: bool) -> None:
    assert retry_transient(None, None, Failed(data=exc)) is retried


def _wrapped(inner: Exception) -> S3UploadFailedError:
    """As boto3's upload_file raises it: a message, the ClientError as its context."""
    try:
        raise inner
    except ClientError as exc:
        try:
            raise S3UploadFailedError(f"Failed to upload: {exc}")  # noqa: B904 - boto3's way
        except S3UploadFailedError as outer:
            return outer


@pytest.mark.parametrize(
    "status, code, retried",
    [(503, "SlowDown", True), (403, "AccessDenied", False)],
)
def test_upload_failures_are_classified_by_the_s3_error_inside(
    status: int, code: str, retried: bool
) -> None:
    wrapped = _wrapped(client_error(status, code))
    assert retry_transient(None, None, Failed(data=wrapped)) is retried


@pytest.mark.parametrize(
    ("state", "its_host"),
    [
        # A worker host cut from S3: the build is fine, where it ran is not.
        (Failed(data=EndpointConnectionError(endpoint_url="http://s3:5000")), True),
        (Failed(data=S3UploadFailedError("upload")), False),
        (Failed(data=client_error(503, "SlowDown")), True),
        (Failed(data=client_error(403, "AccessDenied")), False),
        (Failed(data=UnplayableMaster("not a video")), False),
        (Failed(data=ValueError("a bug")), False),
        (Failed(message="no exception kept"), False),
    ],
)
def test_only_trouble_that_passes_hands_a_failed_preview_back(state: Any, its_host: bool) -> None:
    assert failed_for_its_host(state) is its_host
