"""Small synchronous wrappers over the Prefect client for tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun


async def _read_runs_for_sha(client: Any, sha: str) -> list[FlowRun]:
    return list(
        await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"sha256:{sha}"]))
        )
    )


def runs_for_sha(sha: str) -> list[FlowRun]:
    async def read() -> list[FlowRun]:
        async with get_client() as client:
            return await _read_runs_for_sha(client, sha)

    return asyncio.run(read())


def run_histories(sha: str) -> str:
    """Each preview run of `sha` with its state history and the worker that took it, one
    line per run: what a failed fault test prints so that CI says what happened."""

    async def read() -> list[str]:
        async with get_client() as client:
            lines = []
            for run in sorted(await _read_runs_for_sha(client, sha), key=lambda r: str(r.created)):
                states = await client.read_flow_run_states(run.id)
                history = " > ".join(
                    f"{s.name}@{s.timestamp:%H:%M:%S.%f}"[:-3] for s in states if s.timestamp
                )
                worker = (run.labels or {}).get("prefect.worker.name")
                lines.append(f"{str(run.id)[:8]} {run.idempotency_key} {worker}: {history}")
            return lines

    return "\n".join(asyncio.run(read()))


def read_run(run_id: str) -> FlowRun:
    async def read() -> FlowRun:
        async with get_client() as client:
            return await client.read_flow_run(uuid.UUID(run_id))

    return asyncio.run(read())


def deployment_id(name: str) -> uuid.UUID:
    async def read() -> uuid.UUID:
        async with get_client() as client:
            return (await client.read_deployment_by_name(name)).id

    return asyncio.run(read())


def crash_run(run_id: str, message: str = "worker lost the container") -> None:
    from prefect.states import Crashed

    set_state(run_id, Crashed(message=message))


def set_state(run_id: str, state: Any) -> None:
    async def force() -> Any:
        async with get_client() as client:
            return await client.set_flow_run_state(uuid.UUID(run_id), state, force=True)

    asyncio.run(force())


def heartbeat(pool: str, worker: str) -> None:
    """Pretend a worker polls `pool` (creating the pool if needed)."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    async def beat() -> None:
        async with get_client() as client:
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            await client.send_worker_heartbeat(pool, worker, heartbeat_interval_seconds=30)

    asyncio.run(beat())
