"""The automations `dailies bootstrap` applies, against a real Prefect server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.events import emit_event
from prefect.states import Running

from ops.deploy import apply_automations, automation_specs

ZOMBIE = "dailies-crash-zombie-flow-runs"
GPU_POOL = "dailies-pause-failing-gpu-pool"
AUDIT = "dailies-notify-audit-critical-findings"
CHANGES = "dailies-notify-editors-changes-requested"


def test_every_automation_file_is_valid_and_applying_twice_keeps_one_of_each(
    prefect_server: Any,
) -> None:
    specs = automation_specs()
    assert {ZOMBIE, GPU_POOL, AUDIT, CHANGES} <= {s["name"] for s in specs}
    first = asyncio.run(apply_automations(specs))
    # no `dailies-ops` or `dailies-editorial` notification block on this server: those wait
    assert first.pop(AUDIT) == "skipped: no block named dailies-ops"
    assert first.pop(CHANGES) == "skipped: no block named dailies-editorial"
    assert set(first.values()) <= {"created", "updated"}
    again = asyncio.run(apply_automations(specs))
    assert set(again.values()) - {again.pop(AUDIT), again.pop(CHANGES)} == {"updated"}

    async def count() -> int:
        async with get_client() as client:
            return len(await client.read_automations_by_name(ZOMBIE))

    assert asyncio.run(count()) == 1
    asyncio.run(_delete_automation(ZOMBIE))
    asyncio.run(_delete_automation(GPU_POOL))


@flow(name="dailies-zombie-probe")
def _probe() -> None:
    """Never runs: only gives the test's flow run a flow to belong to."""


def test_a_run_whose_heartbeats_stop_is_marked_crashed(prefect_server: Any) -> None:
    """The shipped automation, with its window shortened so the test does not wait 90 s."""
    spec = next(s for s in automation_specs() if s["name"] == ZOMBIE)
    assert spec["trigger"]["within"] == 120  # the README's figure, before the test shortens it
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


def _test_copy(name: str) -> dict[str, Any]:
    """The shipped automation under a name of its own, so a test can delete just it."""
    spec = next(s for s in automation_specs() if s["name"] == name)
    return {**spec, "name": f"{name}-test-{uuid.uuid4().hex[:6]}"}


def _emit_until(emit: Any, check: Any, timeout_s: float = 120) -> Any:
    """Emit, then emit again every few seconds until `check` holds: the server's trigger
    service loads a new automation shortly after it is created, not at once, and an event
    it has not seen the automation for is not counted."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        emit()
        for _ in range(10):
            if found := check():
                return found
            time.sleep(0.5)
    return check()


def test_a_gpu_pool_whose_runs_keep_failing_is_paused(prefect_server: Any) -> None:
    """Failed runs on a pool named like the gpu pool pause it; a throwaway pool stands in."""
    from prefect.client.schemas.actions import WorkPoolCreate

    pool_name = f"gpu-test-{uuid.uuid4().hex[:6]}"
    spec = _test_copy(GPU_POOL)
    trigger = spec["trigger"]
    assert trigger["match_related"]["prefect.resource.name"] == "gpu"
    # The README's figures: five Failed/Crashed runs within ten minutes.
    assert (trigger["threshold"], trigger["within"]) == (5, 600)
    spec["trigger"] = {**trigger, "match_related": {**trigger["match_related"],
                       "prefect.resource.name": pool_name}}  # fmt: skip

    async def create_pool() -> uuid.UUID:
        async with get_client() as client:
            pool = await client.create_work_pool(WorkPoolCreate(name=pool_name, type="process"))
            return pool.id

    async def is_paused() -> bool:
        async with get_client() as client:
            return bool((await client.read_work_pool(pool_name)).is_paused)

    pool_id = asyncio.run(create_pool())
    asyncio.run(apply_automations([spec]))
    try:
        kinds = iter(["Failed", "Crashed"] * 100)

        def fail_a_run() -> None:
            emit_event(
                event=f"prefect.flow-run.{next(kinds)}",
                resource={"prefect.resource.id": f"prefect.flow-run.{uuid.uuid4()}"},
                related=[
                    {
                        "prefect.resource.id": f"prefect.work-pool.{pool_id}",
                        "prefect.resource.role": "work-pool",
                        "prefect.resource.name": pool_name,
                    }
                ],
            )

        for _ in range(trigger["threshold"] - 1):
            fail_a_run()
        assert _emit_until(fail_a_run, lambda: asyncio.run(is_paused()))
    finally:
        asyncio.run(_delete_automation(spec["name"]))
        asyncio.run(_delete_pool(pool_name))


def test_a_critical_audit_finding_notifies_ops(prefect_server: Any) -> None:
    """A planted `dailies.audit.checksum_mismatch` reaches the ops webhook, key and detail."""
    sha = uuid.uuid4().hex * 2
    with _webhook_automation(AUDIT, "dailies-ops") as received:

        def plant_a_finding() -> None:
            emit_event(
                event="dailies.audit.checksum_mismatch",
                resource={
                    "prefect.resource.id": f"dailies.master.{sha}",
                    "prefect.resource.name": sha,
                },  # fmt: skip
                payload={"detail": "sha256 of the stored bytes differs", "audit_run_id": 7},
            )

        assert _emit_until(plant_a_finding, lambda: received)
        message = received[0]
        assert message["subject"] == f"dailies audit: dailies.audit.checksum_mismatch for {sha}"
        assert "sha256 of the stored bytes differs" in message["body"]
        assert "Audit run: 7" in message["body"]


@contextmanager
def _webhook_automation(automation: str, block_name: str) -> Iterator[list[dict[str, Any]]]:
    """A test copy of `automation` notifying a webhook block named like `block_name` (a
    CustomWebhookNotificationBlock, as ops configure theirs) that this process serves; the
    messages it receives. Automation, block and server are removed afterwards."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    received: list[dict[str, Any]] = []

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    saved_as = f"{block_name}-test-{uuid.uuid4().hex[:6]}"
    block = CustomWebhookNotificationBlock(
        name=block_name,
        url=f"http://127.0.0.1:{server.server_port}/hook",
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
    )
    block.save(saved_as)
    spec = _test_copy(automation)
    (action,) = spec["actions"]
    spec["actions"] = [{**action, "block_document_id": f"block:{saved_as}"}]
    assert asyncio.run(apply_automations([spec]))[spec["name"]] == "created"
    try:
        yield received
    finally:
        asyncio.run(_delete_automation(spec["name"]))
        block.delete(saved_as)
        server.shutdown()


async def _delete_pool(name: str) -> None:
    async with get_client() as client:
        await client.delete_work_pool(name)


def test_a_reviewer_asking_for_changes_notifies_the_editors(prefect_server: Any) -> None:
    """The API's own event (dailies.note_rules.approval_event, as PUT …/approval emits it):
    "needs changes" reaches the editors' webhook with who and which master; an approval
    does not."""
    from dailies.note_rules import approval_event

    approved, changes = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    with _webhook_automation(CHANGES, "dailies-editorial") as received:

        def verdicts() -> None:
            emit_event(**approval_event(approved, 7, "Ana (DP)", "none", "approved"))
            emit_event(**approval_event(changes, 7, "Ana (DP)", "approved", "needs_changes"))

        assert _emit_until(verdicts, lambda: received)
        subjects = {message["subject"] for message in received}
        assert subjects == {f"dailies: Ana (DP) asks for changes on {changes[:12]}"}, received
        assert f"master {changes} (was: approved)" in received[0]["body"]
        assert f"/api/masters/{changes}/notes" in received[0]["body"]
