"""A preview build killed mid-encode and mid-publish, and its worker lost with it: the
liveness sweep launches a new attempt with nobody asking (no request reaches the API after
the first trigger), and the preview comes back ready with nothing half-published and no
scratch left. A worker killed alone (a restart: a deploy, an OOM kill) is no loss at all:
the build it started goes on and ends as its one run."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client

from tests.api.prefect_helpers import run_histories, runs_for_sha
from tests.faults.conftest import FAULTS_POOL, FaultWorker
from tests.faults.flaky_s3 import FlakyS3, Hold
from tests.faults.outcome import wait_for
from tests.faults.previewing import (
    assert_nothing_half_published,
    assert_recovered,
    encoding,
    final_states,
    ladder_segment_put,
    promoted_clip,
    ready_unasked,
    trigger,
)
from tests.faults.procs import alive, flow_run_process, kill_tree, sigkill, wait_gone
from tests.faults.report import FaultTable
from tests.faults.runs import logged

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def _states(sha: str) -> list[str]:
    return sorted(r.state.type.value for r in runs_for_sha(sha) if r.state is not None)


def _recovered(
    stack: Any, sha: str, killed_at: float, within_s: float = 120
) -> tuple[float, list[str]]:
    """Nothing half-published now; ready with nobody asking, with a second run."""
    assert_nothing_half_published(stack, sha)
    recovery_s = ready_unasked(stack, sha, within_s) - killed_at
    left = assert_recovered(stack, sha)
    states = final_states(sha)
    assert states == ["COMPLETED", "CRASHED"], f"{states}\n{run_histories(sha)}"
    return recovery_s, left


def test_flow_run_killed_mid_encode_is_rebuilt_with_nobody_asking(
    worker: FaultWorker, fault_api: httpx.Client, stack: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    sha = promoted_clip(stack, tmp_path, "encode.mp4", seconds=8)
    run_id = trigger(fault_api, sha)["flow_run_id"]
    pid, ffmpeg = wait_for("the ladder's ffmpeg", lambda: encoding(worker, run_id), 120, 0.02)

    sigkill(pid)
    killed_at = time.monotonic()
    # its ffmpeg goes too (SIGPIPE on the progress pipe), and nothing points at a gap
    assert wait_gone([pid, *ffmpeg], 15) == []

    recovery_s, left = _recovered(stack, sha, killed_at)
    fault_table.add(
        "3a encode", "SIGKILL flow-run process while ffmpeg encodes the ladder", recovery_s,
        "ready (2nd attempt)", left,
    )  # fmt: skip


def _launched_with_a_segment_held(
    store: FlakyS3, api: httpx.Client, stack: Any, tmp_path: Path
) -> tuple[str, str, Hold]:
    """A clip promoted and its preview launched, with the upload of its first ladder segment
    to be held at the store: (sha, flow run id, the hold)."""
    sha = promoted_clip(stack, tmp_path, "publish.mp4", seconds=8.5)
    hold = store.hold(ladder_segment_put(sha))
    return sha, trigger(api, sha)["flow_run_id"], hold


def test_flow_run_killed_mid_publish_is_rebuilt_with_nobody_asking(
    worker: FaultWorker, store: FlakyS3, fault_api: httpx.Client, stack: Any,
    tmp_path: Path, fault_table: FaultTable,
) -> None:  # fmt: skip
    sha, run_id, hold = _launched_with_a_segment_held(store, fault_api, stack, tmp_path)
    killed_at = worker.kill_flow_run_at(run_id, hold)

    recovery_s, left = _recovered(stack, sha, killed_at)
    fault_table.add(
        "3b publish", "SIGKILL flow-run process while a ladder segment uploads", recovery_s,
        "ready (2nd attempt)", left,
    )  # fmt: skip


def test_worker_lost_with_its_run_and_ffmpeg_is_replaced_within_two_minutes(
    worker: FaultWorker, fault_api: httpx.Client, stack: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    """Nothing reports the run's end: it stays Running until the sweep finds its row still,
    the worker that took it silent for 15 s and the run's own heartbeats for 45 s (a
    restarted worker alone is no loss: the tests below), marks it Crashed and launches
    again: ready within two minutes."""
    sha = promoted_clip(stack, tmp_path, "host.mp4", seconds=9)
    run_id = trigger(fault_api, sha)["flow_run_id"]
    wait_for("the ladder's ffmpeg runs", lambda: encoding(worker, run_id), 120, 0.02)

    killed = kill_tree(worker.pid)
    killed_at = time.monotonic()
    assert wait_gone(killed, 15) == []
    worker.ensure()  # the supervisor starts a new worker (or another host has one)
    assert _states(sha) == ["RUNNING"]  # a lost host reports nothing

    # Up to 45 s until the run's heartbeats are missed (the worker's, 3 intervals of 5 s,
    # sooner), a new flow-run process (up to ~40 s to start on a busy 2-core box), the build.
    recovery_s, left = _recovered(stack, sha, killed_at, within_s=120)
    assert recovery_s <= 120
    crashed = [r for r in runs_for_sha(sha) if r.state and r.state.type.value == "CRASHED"]
    assert "stopped heartbeating" in str(crashed[0].state.message), crashed[0].state
    fault_table.add(
        "3c host", "SIGKILL worker + flow-run process + ffmpeg (every process group)",
        recovery_s, "ready (worker and run heartbeats lost, relaunched)", left,
    )  # fmt: skip


def _worker_shown(name: str, status: str) -> bool:
    """Whether the faults pool lists worker `name` with `status`, as the Prefect UI does."""

    async def read() -> bool:
        async with get_client() as client:
            workers = await client.read_workers_for_work_pool(FAULTS_POOL)
            return any(w.name == name and w.status.value == status for w in workers)

    return asyncio.run(read())


def _outlived_its_worker(
    worker: FaultWorker, stack: Any, sha: str, run_id: str, run_pid: int, killed_at: float
) -> float:
    """The run whose worker was killed at `killed_at` finishes as the only run, its process
    still the one the dead worker started, its logs still reaching Prefect; the UI shows the
    dead worker Offline and its successor Online. Returns how long after the kill it was ready."""
    dead = worker.name
    assert alive(run_pid), "the flow-run process died with its worker"
    worker.ensure()  # the supervisor (dailies up, systemd) starts the next one, a new name
    ready_s = ready_unasked(stack, sha, 120) - killed_at
    assert final_states(sha) == ["COMPLETED"], run_histories(sha)
    assert [str(r.id) for r in runs_for_sha(sha)] == [run_id]
    assert_recovered(stack, sha)
    wait_for("its log lines in Prefect", lambda: logged(run_id, "ffmpeg encoded"), 30, 0.5)
    wait_for("the killed worker Offline", lambda: _worker_shown(dead, "OFFLINE"), 60, 0.5)
    wait_for("its successor Online", lambda: _worker_shown(worker.name, "ONLINE"), 60, 0.5)
    return ready_s


def test_worker_killed_mid_encode_leaves_its_build_to_finish(
    worker: FaultWorker, fault_api: httpx.Client, stack: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    """The flow-run process writes nothing to its worker (stream_output off in
    work_pools/): a worker that goes leaves no broken pipe to end the build on."""
    sha = promoted_clip(stack, tmp_path, "restart.mp4", seconds=9)
    run_id = trigger(fault_api, sha)["flow_run_id"]
    pid, _ = wait_for("the ladder's ffmpeg", lambda: encoding(worker, run_id), 120, 0.02)

    sigkill(worker.pid)
    killed_at = time.monotonic()
    assert wait_gone([worker.pid], 15) == []

    ready_s = _outlived_its_worker(worker, stack, sha, run_id, pid, killed_at)
    fault_table.add(
        "3d worker", "SIGKILL the worker alone while its run encodes", ready_s,
        "ready (the same run, 1 attempt)", [],
    )  # fmt: skip


def test_worker_stopped_mid_encode_leaves_its_build_to_finish(
    worker: FaultWorker, fault_api: httpx.Client, stack: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    """A stop, not a kill: SIGTERM to the worker alone, as `systemctl stop` (KillMode=process)
    or a deploy's rolling restart sends it. The worker exits on its own terms; the run it
    started does not go with it."""
    sha = promoted_clip(stack, tmp_path, "stop.mp4", seconds=9)
    run_id = trigger(fault_api, sha)["flow_run_id"]
    pid, _ = wait_for("the ladder's ffmpeg", lambda: encoding(worker, run_id), 120, 0.02)

    os.kill(worker.pid, signal.SIGTERM)
    stopped_at = time.monotonic()
    assert wait_gone([worker.pid], 60) == [], "the worker did not exit on SIGTERM"

    ready_s = _outlived_its_worker(worker, stack, sha, run_id, pid, stopped_at)
    fault_table.add(
        "3f worker", "SIGTERM the worker alone while its run encodes", ready_s,
        "ready (the same run, 1 attempt)", [],
    )  # fmt: skip


def test_worker_killed_mid_publish_leaves_its_build_to_finish(
    worker: FaultWorker, store: FlakyS3, fault_api: httpx.Client, stack: Any,
    tmp_path: Path, fault_table: FaultTable,
) -> None:  # fmt: skip
    sha, run_id, hold = _launched_with_a_segment_held(store, fault_api, stack, tmp_path)
    assert hold.wait(120), "the run never reached the publish"
    pid = flow_run_process(worker.pid, run_id)
    assert pid is not None

    sigkill(worker.pid)
    killed_at = time.monotonic()
    assert wait_gone([worker.pid], 15) == []
    hold.release()  # the upload goes on, and the run logs on past its dead worker

    ready_s = _outlived_its_worker(worker, stack, sha, run_id, pid, killed_at)
    fault_table.add(
        "3e worker", "SIGKILL the worker alone while its run uploads a segment", ready_s,
        "ready (the same run, 1 attempt)", [],
    )  # fmt: skip
