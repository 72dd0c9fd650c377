"""A preview build killed mid-encode and mid-publish, and its worker lost with it: the
liveness sweep launches a new attempt with nobody asking (no request reaches the API after
the first trigger), and the preview comes back ready with nothing half-published and no
scratch left."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.prefect_helpers import run_histories, runs_for_sha
from tests.faults.conftest import FaultWorker
from tests.faults.flaky_s3 import FlakyS3
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
from tests.faults.procs import kill_tree, sigkill, wait_gone
from tests.faults.report import FaultTable

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


def test_flow_run_killed_mid_publish_is_rebuilt_with_nobody_asking(
    worker: FaultWorker, store: FlakyS3, fault_api: httpx.Client, stack: Any,
    tmp_path: Path, fault_table: FaultTable,
) -> None:  # fmt: skip
    sha = promoted_clip(stack, tmp_path, "publish.mp4", seconds=8.5)

    ladder_segment = ladder_segment_put(sha)

    hold = store.hold(ladder_segment)  # the first ladder segment's upload, held
    killed_at = worker.kill_flow_run_at(trigger(fault_api, sha)["flow_run_id"], hold)

    recovery_s, left = _recovered(stack, sha, killed_at)
    fault_table.add(
        "3b publish", "SIGKILL flow-run process while a ladder segment uploads", recovery_s,
        "ready (2nd attempt)", left,
    )  # fmt: skip


def test_worker_lost_with_its_run_and_ffmpeg_is_replaced_within_two_minutes(
    worker: FaultWorker, fault_api: httpx.Client, stack: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    """Nothing reports the run's end: it stays Running until the sweep finds its row still
    and the worker that took it no longer heartbeating (or, failing that, the row still for
    preview_stall_s), marks it Crashed and launches again: ready within two minutes."""
    sha = promoted_clip(stack, tmp_path, "host.mp4", seconds=9)
    run_id = trigger(fault_api, sha)["flow_run_id"]
    wait_for("the ladder's ffmpeg runs", lambda: encoding(worker, run_id), 120, 0.02)

    killed = kill_tree(worker.pid)
    killed_at = time.monotonic()
    assert wait_gone(killed, 15) == []
    worker.ensure()  # the supervisor starts a new worker (or another host has one)
    assert _states(sha) == ["RUNNING"]  # a lost host reports nothing

    # ~15 s until the worker's heartbeats are missed (3 intervals of 5 s), a new flow-run
    # process (up to ~40 s to start on a busy 2-core box), then the build.
    recovery_s, left = _recovered(stack, sha, killed_at, within_s=120)
    assert recovery_s <= 120
    crashed = [r for r in runs_for_sha(sha) if r.state and r.state.type.value == "CRASHED"]
    assert "stopped heartbeating" in str(crashed[0].state.message), crashed[0].state
    fault_table.add(
        "3c host", "SIGKILL worker + flow-run process + ffmpeg (every process group)",
        recovery_s, "ready (lost worker seen, relaunched)", left,
    )  # fmt: skip
