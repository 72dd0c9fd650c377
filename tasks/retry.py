"""When Prefect should retry a task: transient trouble yes, a caller's mistake never."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from prefect.tasks import exponential_backoff

from dailies.errors import DailiesError

RETRY_DELAYS = exponential_backoff(backoff_factor=2)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry transient trouble; never our own typed errors or S3's 4xx answers."""
    try:
        state.result()
    except DailiesError:
        return False
    except ClientError as exc:
        return is_transient_s3_error(exc)
    except Exception:
        return True
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
