"""Launching the suite's deployments the way the API does (api/launcher.py, idempotency
keys and all) and reading their runs back."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun

from dailies import runs as launcher


def launch(deployment: str, parameters: dict[str, Any], key_base: str, tags: list[str]) -> str:
    async def go() -> str:
        async with get_client() as client:
            run = await launcher.launch(client, deployment, parameters, key_base, tags=tags)
            return str(run.id)

    return asyncio.run(go())


def read_run(run_id: str) -> FlowRun:
    async def read() -> FlowRun:
        async with get_client() as client:
            return await client.read_flow_run(UUID(run_id))

    return asyncio.run(read())


def state_type(run_id: str) -> str | None:
    state = read_run(run_id).state
    return state.type.value if state is not None else None


def wait_final(run_id: str, timeout_s: float) -> FlowRun:
    deadline = time.monotonic() + timeout_s
    while True:
        run = read_run(run_id)
        if run.state is not None and run.state.is_final():
            return run
        assert time.monotonic() < deadline, f"run {run_id} not final within {timeout_s} s"
        time.sleep(0.2)


def logged(run_id: str, text: str) -> bool:
    """Whether the run has logged a line containing `text` (logs reach the server in
    batches of PREFECT_LOGGING_TO_API_BATCH_INTERVAL)."""

    async def read() -> bool:
        async with get_client() as client:
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(run_id)]))
            )
            return any(text in log.message for log in logs)

    return asyncio.run(read())


def runs_of(run_ids: list[str]) -> list[FlowRun]:
    async def read() -> list[FlowRun]:
        async with get_client() as client:
            ids = FlowRunFilterId(any_=[UUID(r) for r in run_ids])
            return await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=ids))

    return asyncio.run(read())
