"""Runs named from birth, whoever creates them.

The API and the CLI create their runs with their names (dailies/runs.py). Prefect applies a
flow's own `flow_run_name` only once a worker starts the run, so a run the UI's form, a
schedule or `prefect deployment run` creates waits under a random name (a scheduled audit, a
day ahead, for a day). Every `run_naming_interval_s` each API replica gives the waiting runs
of our deployments the names their flows will give them when they start: the same function,
so the name never changes under an operator's eyes. Replicas doing it side by side write
the same name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType

from dailies import runs

logger = logging.getLogger("dailies.run_names")

FLOWS = ("build-preview", "promote-master", "integrity-audit")
WAITING = [StateType.SCHEDULED, StateType.PENDING]
PAGE = 200  # runs a pass names at most, per flow (the rest next pass)


def name_for(flow: str, parameters: dict[str, Any], scheduled_at: datetime | None) -> str | None:
    """The name `flow`'s `flow_run_name` gives a run with these parameters (None: not ours,
    or parameters it cannot be named by: left as it is)."""
    sha, encoder = parameters.get("sha256"), parameters.get("encoder")
    if flow == "build-preview" and isinstance(sha, str) and isinstance(encoder, str):
        return runs.preview_run_name(sha, encoder)
    if flow == "promote-master" and isinstance(sha, str):
        return runs.promotion_run_name(sha)
    if flow == "integrity-audit" and scheduled_at is not None:
        return runs.audit_run_name(scheduled_at)
    return None


async def name_waiting_runs(client: PrefectClient) -> int:
    """Rename our deployments' scheduled and pending runs that lack their name; how many."""
    renamed = 0
    for flow in FLOWS:
        waiting = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=WAITING)),
                deployment_id=FlowRunFilterDeploymentId(is_null_=False),
            ),
            limit=PAGE,
        )
        for run in waiting:
            name = name_for(flow, run.parameters, run.expected_start_time)
            if name is not None and run.name != name:
                await client.update_flow_run(run.id, name=name)
                renamed += 1
    return renamed


async def name_forever(
    get_prefect: Callable[[], Awaitable[PrefectClient]], interval_s: float
) -> None:
    """`name_waiting_runs` every `interval_s` until cancelled; a failed pass (Prefect away)
    is one log line, and the next one tries again."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await name_waiting_runs(await get_prefect())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("naming waiting runs failed, trying again: %s", exc)
