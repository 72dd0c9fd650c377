"""Runs named from birth whoever creates them (dailies/run_names.py): a run the UI's form, a
schedule or `prefect deployment run` makes waits under a random name until a worker starts
it; each API replica names it as its flow will. Real Prefect server and deployments; the
runs are scheduled an hour or a day ahead, so no worker of the session takes them."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.states import Scheduled

from api.app import create_app
from dailies import runs
from dailies.run_names import name_for, name_waiting_runs
from flows.audit import audit_masters
from flows.preview import build_preview
from flows.promote import promote_master
from tests.api.conftest import serve
from tests.faults.outcome import wait_for


def _sha() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


def test_each_flow_is_named_by_its_own_rule() -> None:
    sha = _sha()
    due = datetime(2026, 12, 8, 3, 17, 30, tzinfo=UTC)
    assert name_for("build-preview", {"sha256": sha, "encoder": "cpu"}, due) == (
        f"preview-{sha[:12]}-cpu"
    )
    assert name_for("promote-master", {"sha256": sha, "staging_key": "k"}, due) == (
        f"promote-{sha[:12]}"
    )
    assert name_for("integrity-audit", {}, due) == "audit-2026-12-08-0317"
    # Named by UTC whatever zone the schedule's time comes in.
    later = due.astimezone(datetime.now().astimezone().tzinfo)
    assert name_for("integrity-audit", {}, later) == "audit-2026-12-08-0317"
    assert name_for("build-preview", {"sha256": sha}, due) is None  # no encoder: left alone
    assert name_for("someone-elses-flow", {"sha256": sha}, due) is None
    # The flows name themselves by the same rules once they start.
    assert audit_masters.flow_run_name is runs.audit_run_name
    assert build_preview.flow_run_name == "preview-{sha256:.12}-{encoder}"
    assert promote_master.flow_run_name == "promote-{sha256:.12}"


async def _create(deployment: str, parameters: dict[str, Any], due: datetime) -> UUID:
    """A run as the UI's form or a schedule makes it: no name given (Prefect picks one)."""
    async with get_client() as client:
        found = await client.read_deployment_by_name(deployment)
        run = await client.create_flow_run_from_deployment(
            found.id, parameters=parameters, state=Scheduled(scheduled_time=due)
        )
        return run.id


async def _name(run_id: UUID) -> str:
    async with get_client() as client:
        return (await client.read_flow_run(run_id)).name


async def _delete(run_ids: list[UUID]) -> None:
    async with get_client() as client:
        for run_id in run_ids:
            await client.delete_flow_run(run_id)


@pytest.fixture
def waiting(api_settings: Any, deployments: None) -> Iterator[dict[str, tuple[UUID, str]]]:
    """A scheduled audit (a day ahead), a preview and a promotion (an hour ahead), each under
    Prefect's random name; with the name each should get."""
    sha = _sha()
    in_a_day = datetime.now(UTC) + timedelta(days=1)
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    made = {
        "audit": (
            asyncio.run(_create(api_settings.audit_deployment, {}, in_a_day)),
            f"audit-{in_a_day:%Y-%m-%d-%H%M}",
        ),
        "preview": (
            asyncio.run(
                _create(
                    api_settings.preview_cpu_deployment,
                    {"sha256": sha, "encoder": "cpu"},
                    in_an_hour,
                )
            ),
            f"preview-{sha[:12]}-cpu",
        ),
        "promotion": (
            asyncio.run(
                _create(
                    api_settings.promote_deployment,
                    {"sha256": sha, "staging_key": f"uploads/{uuid.uuid4()}/clip.mov"},
                    in_an_hour,
                )
            ),
            f"promote-{sha[:12]}",
        ),
    }
    for run_id, name in made.values():
        assert asyncio.run(_name(run_id)) != name  # Prefect's random name, as the UI shows
    yield made
    asyncio.run(_delete([run_id for run_id, _ in made.values()]))


def test_waiting_runs_get_their_flows_names(waiting: dict[str, tuple[UUID, str]]) -> None:
    async def once() -> int:
        async with get_client() as client:
            return await name_waiting_runs(client)

    assert asyncio.run(once()) >= 3
    for run_id, name in waiting.values():
        assert asyncio.run(_name(run_id)) == name

    async def again() -> list[str]:
        return [await _name(run_id) for run_id, _ in waiting.values()]

    asyncio.run(once())  # a second pass (another replica) changes nothing
    assert asyncio.run(again()) == [name for _, name in waiting.values()]


def test_the_api_names_them_on_its_own(
    api_settings: Any, waiting: dict[str, tuple[UUID, str]]
) -> None:
    naming = create_app(api_settings.model_copy(update={"run_naming_interval_s": 0.2}))
    with serve(naming):
        for what, (run_id, name) in waiting.items():
            wait_for(
                f"the {what} run named {name}",
                lambda run_id=run_id, name=name: asyncio.run(_name(run_id)) == name,
                30,
                0.2,
            )
