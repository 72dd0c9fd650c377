"""The API process and the worker SIGKILLed between "launch" and "recorded": Prefect has
created the preview's flow run, the previews row does not name it yet (the API died before
attach_run). A new API process (a supervisor's restart, or another replica) and a new worker
recover it on the player's next triggers: the same idempotency key finds the orphaned run
and attaches it, or, if the dead worker had taken it, the lost-worker guard relaunches.
Exactly one run builds; the preview ends ready."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.clients import session_scope
from dailies.db import api_keys
from dailies.db.models import Preview
from ops.processes import Service, free_port, start_api
from tests.api.prefect_helpers import run_histories, runs_for_sha
from tests.faults.conftest import API_SETTINGS, RUN_DIR, FaultWorker
from tests.faults.flaky_s3 import FlakyS3
from tests.faults.previewing import assert_recovered, final_states, promoted_clip, until_ready
from tests.faults.procs import kill_tree, wait_gone
from tests.faults.report import FaultTable

pytestmark = [pytest.mark.slow, pytest.mark.faults]

# The fault_api fixture's settings, for an API in a process.
API_ENV = {f"DAILIES_{name.upper()}": str(value) for name, value in API_SETTINGS.items()}


class ApiProcess:
    """`uvicorn api.app:app` as `dailies up` runs it, reaching Prefect at `prefect_url`."""

    def __init__(self, prefect_url: str, token: str) -> None:
        env = {**os.environ, **API_ENV, "PREFECT_API_URL": prefect_url}
        self.service: Service = start_api(free_port(), env, RUN_DIR / "logs")
        self.client = httpx.Client(
            base_url=self.service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def stop(self) -> None:
        self.client.close()
        self.service.stop()


@pytest.fixture
def token(stack: Any) -> str:
    with session_scope(stack) as session:
        return api_keys.create_key(session, "editor", "faults-api-kill")[1]


@pytest.fixture
def prefect_proxy() -> Iterator[FlakyS3]:
    proxy = FlakyS3(os.environ["PREFECT_API_URL"])
    yield proxy
    proxy.close()


def _row(stack: Any, sha: str) -> tuple[str | None, str | None]:
    with session_scope(stack) as session:
        row = session.get(Preview, sha)
        return (row.status, row.flow_run_id) if row is not None else (None, None)


def test_api_and_worker_killed_between_launch_and_recorded_recover_to_one_preview(
    worker: FaultWorker, prefect_proxy: FlakyS3, token: str, stack: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    sha = promoted_clip(stack, tmp_path, "launch.mp4", seconds=6)
    # Prefect creates the run; its answer is held back from the API, which is killed waiting.
    hold = prefect_proxy.hold(
        lambda method, path, _: method == "POST" and path.endswith("/create_flow_run"),
        answered=True,
        success_only=True,  # a 5xx (Prefect's SQLite busy) created nothing: the retry counts
    )
    first_api = ApiProcess(f"{prefect_proxy.url}/api", token)
    cleanups = [first_api.stop]
    try:
        trigger = threading.Thread(
            target=lambda: _post_ignoring_the_kill(first_api.client, sha), daemon=True
        )
        trigger.start()
        assert hold.wait(120), "the API never asked Prefect for a run"
        launched = runs_for_sha(sha)
        assert len(launched) == 1
        assert _row(stack, sha) == ("queued", None)  # launched, not recorded

        killed = kill_tree(first_api.service.proc.pid) + kill_tree(worker.pid)
        killed_at = time.monotonic()
        assert wait_gone(killed, 15) == []
        hold.release()
        trigger.join(30)

        worker.ensure()  # the supervisor restarts both
        second_api = ApiProcess(os.environ["PREFECT_API_URL"], token)
        cleanups.append(second_api.stop)
        recovery_s = until_ready(second_api.client, sha, 120) - killed_at
    finally:
        for stop in cleanups:
            stop()

    states = final_states(sha)
    # exactly one run built the preview
    assert states.count("COMPLETED") == 1, f"{states}\n{run_histories(sha)}"
    status, attached = _row(stack, sha)
    assert status == "ready"
    if states == ["COMPLETED"]:  # the orphaned run was found by its key and attached
        assert attached == str(launched[0].id)
        outcome = "ready; the orphaned run was found by its key and attached"
    else:  # the dead worker had taken it: judged lost, crashed, relaunched
        assert states == ["COMPLETED", "CRASHED"], f"{states}\n{run_histories(sha)}"
        outcome = "ready; the run the dead worker took was relaunched"
    assert recovery_s <= 120
    left = assert_recovered(stack, sha)
    fault_table.add(
        "4 launch/record", "SIGKILL API mid-trigger (run created, row not attached) + worker",
        recovery_s, outcome, left,
    )  # fmt: skip


def _post_ignoring_the_kill(client: httpx.Client, sha: str) -> None:
    """The reviewer's trigger to the API about to die: its connection drops."""
    with contextlib.suppress(httpx.HTTPError):
        client.post("/api/preview", json={"sha": sha})
