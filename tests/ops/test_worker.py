"""`dailies worker` (ops/worker.py) takes no run while its host cannot reach the object store:
the store check against the session's real moto and a port nothing listens on, and a real
worker process, started against that port on a pool of its own, saying it takes no run.
(That SIGTERM leaves its runs running is a fault test: faults/test_preview_kills.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate

from dailies.clients import reset_clients
from ops.worker import _store_reachable
from tests.api.conftest import dead_port
from tests.faults.outcome import wait_for


@pytest.fixture
def store_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def point(url: str) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
        reset_clients()

    yield point
    reset_clients()


def test_the_store_check_tells_a_store_from_a_silent_port(stack: Any, store_at: Any) -> None:
    assert _store_reachable()  # the session's moto answers
    store_at(f"http://127.0.0.1:{dead_port()}")
    assert not _store_reachable()


@pytest.fixture
def empty_pool(stack: Any) -> Iterator[str]:
    """A process pool of its own: a worker polling it can take none of the session's runs."""
    name = f"gate-{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name=name, type="process"))

    async def delete() -> None:
        async with get_client() as client:
            await client.delete_work_pool(name)

    asyncio.run(create())
    yield name
    asyncio.run(delete())


def test_a_worker_cut_from_the_store_says_it_takes_no_run(empty_pool: str, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{dead_port()}"}
    dailies = str(Path(sys.executable).parent / "dailies")
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [dailies, "worker", "--pool", empty_pool, "--name", empty_pool],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(
            "the worker's line that the store is out of reach",
            lambda: "taking no run until it answers" in log.read_text(),
            120,
            0.2,
        )
    finally:
        # SIGTERM: `dailies worker` exits at once (it has no run to leave); Ctrl-C's stop
        # can take longer than a test should wait on a loaded box.
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    assert "Traceback" not in log.read_text()
