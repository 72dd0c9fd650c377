"""Prefect runs, through the Prefect client: launching deployments idempotently, reading runs
and their workers back. Used by the API (promotions) and dailies/previews (dispatch, liveness)."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import WorkerFilter, WorkerFilterStatus
from prefect.client.schemas.objects import FlowRun, StateType, Worker, WorkerStatus
from prefect.exceptions import ObjectNotFound

from dailies.errors import DailiesError

FAILED_FOR_GOOD = {StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
MAX_ATTEMPTS = 100


def promotion_key_base(sha256: str, staging_key: str) -> str:
    # Keys are long and arbitrary; a digest keeps the idempotency key short and opaque.
    key_digest = hashlib.sha256(staging_key.encode()).hexdigest()[:16]
    return f"promote:{sha256}:{key_digest}"


def preview_key_base(sha256: str) -> str:
    return f"preview:{sha256}"


def preview_run_name(sha256: str, encoder: str) -> str:
    """As flows/preview.py's flow_run_name names it once started (tests hold the two equal)."""
    return f"preview-{sha256[:12]}-{encoder}"


def promotion_run_name(sha256: str) -> str:
    """As flows/promote.py's flow_run_name names it once started."""
    return f"promote-{sha256[:12]}"


def audit_run_name(at: datetime | None = None) -> str:
    """Audits have no parameter to name them by: by when they were due to start (UTC), as ops
    look for them. As the flow's `flow_run_name` (no argument) it reads the run's own expected
    start, so a scheduled audit keeps the name dailies/run_names.py gave it while it waited."""
    if at is None:
        from prefect.runtime import flow_run

        at = flow_run.scheduled_start_time  # now, outside a flow run
    return f"audit-{at.astimezone(UTC):%Y-%m-%d-%H%M}"


def sha_tag(sha256: str) -> str:
    """Tag runs with their master so ops can find them in the Prefect UI."""
    return f"sha256:{sha256}"


def is_failed_for_good(run: FlowRun) -> bool:
    return run.state is not None and run.state.type in FAILED_FOR_GOOD


async def launch(
    client: PrefectClient,
    deployment_name: str,
    parameters: dict[str, Any],
    key_base: str,
    first_attempt: int = 1,
    tags: list[str] | None = None,
    name: str | None = None,
) -> FlowRun:
    """Create a flow run with the idempotency key `{key_base}:{n}`, named `name` from birth
    (the flow's own `flow_run_name` is applied only once a worker starts it: a random name
    until then, in the UI and in the worker's log).

    The same request twice gets the same run (Prefect returns the run that holds the key).
    A failed run holds its key forever, so when the key's run has failed we move on to
    attempt n+1: a retry after failure launches a new run, a retry during a run does not.
    """
    deployment = await client.read_deployment_by_name(deployment_name)
    for attempt in range(first_attempt, first_attempt + MAX_ATTEMPTS):
        run = await client.create_flow_run_from_deployment(
            deployment.id,
            parameters=parameters,
            idempotency_key=f"{key_base}:{attempt}",
            tags=tags,
            name=name,
        )
        if not is_failed_for_good(run):
            return run
    raise DailiesError(f"{MAX_ATTEMPTS} failed runs for {key_base}; investigate before retrying")


def worker_is_live(worker: Worker, now: datetime) -> bool:
    """ONLINE and heard from recently: the server marks workers offline only periodically."""
    if worker.status != WorkerStatus.ONLINE or worker.last_heartbeat_time is None:
        return False
    interval = worker.heartbeat_interval_seconds or 30
    return (now - worker.last_heartbeat_time).total_seconds() <= 3 * interval


async def pool_has_live_worker(client: PrefectClient, pool: str) -> bool:
    """A paused pool has none: its runs would wait (automations/ pauses a failing gpu pool)."""
    try:
        if (await client.read_work_pool(pool)).is_paused:
            return False
        workers = await client.read_workers_for_work_pool(
            pool, worker_filter=WorkerFilter(status=WorkerFilterStatus(any_=["ONLINE"]))
        )
    except ObjectNotFound:
        return False
    now = datetime.now(UTC)
    return any(worker_is_live(w, now) for w in workers)


def worker_is_lost(
    silent_s: float, heartbeat_interval_s: float | None, lost_after_s: float
) -> bool:
    """A worker silent for three of its heartbeat intervals and at least `lost_after_s`."""
    return silent_s > max(3 * (heartbeat_interval_s or 30), lost_after_s)


async def lost_worker_of(client: PrefectClient, run: FlowRun, lost_after_s: float) -> str | None:
    """The worker that took `run` (it labels the run with its name), if that worker has
    sent no heartbeat for three of its intervals and at least `lost_after_s`: a lost host
    reports nothing else. The floor is for a busy host, whose worker, starting a burst of
    flow-run processes, can miss a few heartbeats (the server then shows it offline) while
    its runs are healthy. None while it lives, or when no worker has taken the run yet."""
    labels = run.labels or {}
    name, pool = labels.get("prefect.worker.name"), labels.get("prefect.work-pool.name")
    if not isinstance(name, str) or not isinstance(pool, str):
        return None
    try:
        workers = await client.read_workers_for_work_pool(pool)
    except ObjectNotFound:
        return name
    now = datetime.now(UTC)
    for worker in workers:
        beat = worker.last_heartbeat_time
        silent_s = (now - beat).total_seconds() if beat is not None else math.inf
        if worker.name == name and not worker_is_lost(
            silent_s, worker.heartbeat_interval_seconds, lost_after_s
        ):
            return None
    return name


async def beat_within(client: PrefectClient, flow_run_id: UUID, window_s: float) -> bool:
    """Whether the run's own process sent a heartbeat (`prefect.flow-run.heartbeat`, every
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds) in the last `window_s`: a run outlives its
    worker (no output is piped to it), so a lost worker alone does not mean a lost run."""
    from prefect.events.filters import (
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
        EventResourceFilter,
    )

    since = datetime.now(UTC) - timedelta(seconds=window_s)
    page = await client.read_events(
        EventFilter(
            occurred=EventOccurredFilter.model_validate({"since": since}),
            event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
            resource=EventResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
        ),
        limit=1,
    )
    return bool(page.events)


async def read_run(client: PrefectClient, flow_run_id: UUID) -> FlowRun | None:
    try:
        return await client.read_flow_run(flow_run_id)
    except ObjectNotFound:
        return None


async def mark_crashed(client: PrefectClient, flow_run_id: UUID, message: str) -> None:
    """Force a run we judged dead into Crashed (a killed host never reports it itself)."""
    from prefect.states import Crashed

    await client.set_flow_run_state(flow_run_id, Crashed(message=message), force=True)


def describe_state(run: FlowRun) -> dict[str, Any]:
    """`{state, state_name, error?}` from a run's current state."""
    state = run.state
    if state is None:
        return {"state": "pending", "state_name": None, "error": None}
    failed = state.type in FAILED_FOR_GOOD
    return {
        "state": state.type.value.lower(),
        "state_name": state.name,
        "error": (state.message or state.name) if failed else None,
    }
