"""`dailies up` losing its workers (SIGKILL, whole process groups, as a host's OOM killer or an
operator's kill -9 would), then stopped and started again at once: a fault test, run by
`make faults` beside the others that kill things (it starts two whole stacks of its own)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ops.test_up import RunningUp, _alive, _running_up, _wait

pytestmark = [pytest.mark.slow, pytest.mark.faults]


@pytest.fixture
def own_up(tmp_path: Path) -> Iterator[RunningUp]:
    """A stack of the test's own, for a test that kills parts of it and stops it (tests run
    in random order: the shared one must outlive every test that uses it)."""
    with _running_up(tmp_path) as running:
        yield running


def test_killed_workers_are_restarted_and_stopping_ends_every_process(
    own_up: RunningUp, tmp_path: Path
) -> None:
    up = own_up
    first = up.state["services"]
    assert {"cpu-worker", "task-worker", "api", "s3", "prefect"} <= set(first)
    # A host losing its workers: SIGKILL, whole process groups.
    for name in ("cpu-worker", "task-worker"):
        os.killpg(first[name], signal.SIGKILL)

    def restarted() -> bool:
        services = up.state["services"]
        return all(
            services[n] != first[n] and _alive(services[n]) for n in ("cpu-worker", "task-worker")
        )

    _wait(restarted, 120, "both workers to be restarted", up.log, up.proc)
    text = up.log.read_text()
    assert os.getpriority(os.PRIO_PROCESS, up.state["services"]["cpu-worker"]) > 0  # still
    assert "cpu-worker exited with -9; restarting it" in text
    assert "task-worker exited with -9; restarting it" in text
    # The restarted worker has a name of its own, and the UI shows the killed one Offline
    # (a restart under the same name looked Online throughout).
    shown = {"dailies-cpu-worker-1": "OFFLINE", "dailies-cpu-worker-2": "ONLINE"}
    prefect_api = up.state["env"]["PREFECT_API_URL"]
    _wait(
        lambda: _pool_workers(prefect_api, "cpu") == shown,
        60, "the killed worker shown Offline, its successor Online", up.log, up.proc,
    )  # fmt: skip
    services = up.state["services"]

    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(90) == 0, up.log.read_text()
    for name, pid in services.items():
        assert not _alive(pid), f"{name} ({pid}) outlived the stack"
    assert not (up.home / "stack.json").exists()

    # Started again at once, on the same ports (their sockets still in TIME-WAIT), with the
    # last run's logs kept aside, where its line says.
    with _running_up(tmp_path, up.ports, "up-again.log") as again:
        _wait(lambda: "Ctrl-C stops" in again.log.read_text(), 30, "its URLs", again.log)
        said = again.log.read_text()
        previous = up.home / "logs.previous"
        assert f"last run's   {previous}" in said
        assert "dailies keys create" in said
        assert "dailies-cpu-worker-2" in (previous / "cpu-worker.log").read_text()
        assert again.state["urls"]["edge"].endswith(f":{up.ports['edge']}")


def _pool_workers(prefect_api: str, pool: str) -> dict[str, str]:
    """{worker name: status} as the Prefect UI lists the pool's workers."""
    answer = httpx.post(f"{prefect_api}/work_pools/{pool}/workers/filter", json={}, timeout=30)
    answer.raise_for_status()
    return {w["name"]: w["status"] for w in answer.json()}
