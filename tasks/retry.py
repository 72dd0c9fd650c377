"""When Prefect should retry a task: transient trouble yes, a caller's mistake never."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from dailies.errors import DailiesError

RETRY_DELAYS = exponential_backoff(backoff_factor=2)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry everything except our own typed errors (bad input, integrity failures)."""
    try:
        state.result()
    except DailiesError:
        return False
    except Exception:
        return True
    return False
