"""What a task may ask Prefect about the run it is in."""

from __future__ import annotations

import logging
from typing import Any

from prefect import get_run_logger
from prefect.exceptions import MissingContextError
from prefect.runtime import flow_run


def current_flow_run_id() -> str | None:
    """The enclosing flow run's id; None when called outside a flow run."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def run_logger(fallback: str = "dailies") -> Any:
    """The run's logger (its lines show in the Prefect UI); a plain logger when a step is
    called outside a run (`.fn()` in tests and benches)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(fallback)
