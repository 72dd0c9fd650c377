"""What a task may ask Prefect about the run it is in."""

from __future__ import annotations

from prefect.runtime import flow_run


def current_flow_run_id() -> str | None:
    """The enclosing flow run's id; None when called outside a flow run."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None
