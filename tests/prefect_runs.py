"""What the Prefect server recorded about a test's flow runs: how many times each task ran,
and the runs a test launched that nobody took."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelled

RETRY_STATES = {"Retrying", "AwaitingRetry"}


def task_retries(flow_run_id: UUID, settled: str, timeout_s: float = 30.0) -> Counter[str]:
    """Retry states (Retrying/AwaitingRetry) per task function in one flow run, once the task
    named `settled` has reached a final state on the server (task states arrive as events,
    a moment after the flow returns)."""
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            done = [
                r for r in runs if _task(r.task_key) == settled and r.state and r.state.is_final()
            ]
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert done, f"no final {settled} task run in flow run {flow_run_id}: {runs}"
        retries: Counter[str] = Counter()
        for run in runs:
            states = client.read_task_run_states(run.id)
            retries[_task(run.task_key)] += sum(1 for s in states if s.name in RETRY_STATES)
    return retries


def _task(task_key: str) -> str:
    """The task's function name: run names may be custom (`build-<sha>-<encoder>`), task
    keys are `<function name>-<hash>`."""
    return task_key.rsplit("-", 1)[0]


def cancel_unclaimed(since: datetime) -> int:
    """Cancel the deployment runs created since `since` that no worker has claimed yet
    (Scheduled or Late). A test that only checks a launch leaves its run behind; the
    session's cpu worker would later start every such run at once, each a flow-run process
    that fails on a master that is only a row, in front of the run a later test waits for."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                deployment_id=FlowRunFilterDeploymentId(is_null_=False),
                expected_start_time=FlowRunFilterExpectedStartTime(after_=since),
            )
        )
        for run in runs:
            client.set_flow_run_state(
                run.id, Cancelled(message="left unclaimed by the test that launched it"), force=True
            )
    return len(runs)
