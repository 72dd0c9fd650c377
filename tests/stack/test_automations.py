"""The automations `dailies bootstrap` applies, against a real Prefect server."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.events import emit_event
from prefect.states import Running

from dailies.stack.deploy import apply_automations, automation_specs

ZOMBIE = "dailies-crash-zombie-flow-runs"


def test_every_automation_file_is_valid_and_applying_twice_keeps_one_of_each(
    prefect_server: Any,
) -> None:
    specs = automation_specs()
    assert ZOMBIE in {s["name"] for s in specs}
    assert set(asyncio.run(apply_automations(specs)).values()) <= {"created", "updated"}
    assert set(asyncio.run(apply_automations(specs)).values()) == {"updated"}

    async def count() -> int:
        async with get_client() as client:
            return len(await client.read_automations_by_name(ZOMBIE))

    assert asyncio.run(count()) == 1
    asyncio.run(_delete_automation(ZOMBIE))


@flow(name="dailies-zombie-probe")
def _probe() -> None:
    """Never runs: only gives the test's flow run a flow to belong to."""


def test_a_run_whose_heartbeats_stop_is_marked_crashed(prefect_server: Any) -> None:
    """The shipped automation, with its window shortened so the test does not wait 90 s."""
    spec = next(s for s in automation_specs() if s["name"] == ZOMBIE)
    spec = {**spec, "name": f"{ZOMBIE}-test-{uuid.uuid4().hex[:6]}"}
    spec["trigger"] = {**spec["trigger"], "within": 10}
    asyncio.run(apply_automations([spec]))
    try:
        _start_and_abandon_a_run()
    finally:  # a 10 s window must not judge the session's other runs
        asyncio.run(_delete_automation(spec["name"]))


async def _delete_automation(name: str) -> None:
    async with get_client() as client:
        for automation in await client.read_automations_by_name(name):
            await client.delete_automation(automation.id)


def _start_and_abandon_a_run() -> None:

    async def start_run() -> uuid.UUID:
        async with get_client() as client:
            run = await client.create_flow_run(_probe, state=Running())
            return run.id

    run_id = asyncio.run(start_run())
    emit_event(
        event="prefect.flow-run.heartbeat",
        resource={"prefect.resource.id": f"prefect.flow-run.{run_id}"},
        # What a worker's run says: it belongs to a deployment (shell runs are not judged).
        related=[
            {
                "prefect.resource.id": f"prefect.deployment.{uuid.uuid4()}",
                "prefect.resource.role": "deployment",
            },
        ],  # fmt: skip
    )

    async def state_of() -> str | None:
        async with get_client() as client:
            run = await client.read_flow_run(run_id)
            return run.state.type.value if run.state else None

    deadline = time.monotonic() + 90
    while (state := asyncio.run(state_of())) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(1)
    assert state == "CRASHED"
