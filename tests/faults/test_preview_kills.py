"""A preview build killed mid-encode and mid-publish, and its worker lost with it; the API's
next trigger launches a new attempt (stall guard, recheck), and the preview comes back ready
with nothing half-published and no scratch left."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.prefect_helpers import runs_for_sha
from tests.faults.conftest import FaultWorker
from tests.faults.flaky_s3 import FlakyS3
from tests.faults.outcome import wait_for
from tests.faults.previewing import (
    LADDER,
    assert_nothing_half_published,
    assert_recovered,
    promoted_clip,
    trigger,
    until_ready,
)
from tests.faults.procs import ffmpeg_children, flow_run_process, kill_tree, sigkill, wait_gone
from tests.faults.report import FaultTable

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def _encoding(worker: FaultWorker, run_id: str) -> tuple[int, list[int]] | None:
    """(flow-run pid, its ladder ffmpeg pids) once the run's ladder ffmpeg runs."""
    pid = flow_run_process(worker.pid, run_id)
    ffmpeg = ffmpeg_children(pid, LADDER) if pid else []
    return (pid, ffmpeg) if pid and ffmpeg else None


def _states(sha: str) -> list[str]:
    return sorted(r.state.type.value for r in runs_for_sha(sha) if r.state is not None)


def _recovered(
    api: httpx.Client, stack: Any, sha: str, killed_at: float, within_s: float = 120
) -> tuple[float, list[str]]:
    """Nothing half-published now; ready after the player's triggers, with a second run."""
    assert_nothing_half_published(stack, sha)
    recovery_s = until_ready(api, sha, within_s) - killed_at
    left = assert_recovered(stack, sha)
    assert _states(sha) == ["COMPLETED", "CRASHED"]
    return recovery_s, left


def test_flow_run_killed_mid_encode_is_rebuilt_on_the_next_trigger(
    worker: FaultWorker, fault_api: httpx.Client, stack: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    sha = promoted_clip(stack, tmp_path, "encode.mp4", seconds=8)
    run_id = trigger(fault_api, sha)["flow_run_id"]
    pid, ffmpeg = wait_for("the ladder's ffmpeg", lambda: _encoding(worker, run_id), 120, 0.02)

    sigkill(pid)
    killed_at = time.monotonic()
    # its ffmpeg goes too (SIGPIPE on the progress pipe), and nothing points at a gap
    assert wait_gone([pid, *ffmpeg], 15) == []

    recovery_s, left = _recovered(fault_api, stack, sha, killed_at)
    fault_table.add(
        "3a encode", "SIGKILL flow-run process while ffmpeg encodes the ladder", recovery_s,
        "ready (2nd attempt)", left,
    )  # fmt: skip


def test_flow_run_killed_mid_publish_is_rebuilt_on_the_next_trigger(
    worker: FaultWorker, store: FlakyS3, fault_api: httpx.Client, stack: Any,
    tmp_path: Path, fault_table: FaultTable,
) -> None:  # fmt: skip
    sha = promoted_clip(stack, tmp_path, "publish.mp4", seconds=8.5)

    def ladder_segment(method: str, path: str, _: dict[str, str]) -> bool:
        return method == "PUT" and f"/{sha}/" in path and path.endswith(".m4s") and (
            "/source/" not in path
        )

    hold = store.hold(ladder_segment)  # the first ladder segment's upload, held
    killed_at = worker.kill_flow_run_at(trigger(fault_api, sha)["flow_run_id"], hold)

    recovery_s, left = _recovered(fault_api, stack, sha, killed_at)
    fault_table.add(
        "3b publish", "SIGKILL flow-run process while a ladder segment uploads", recovery_s,
        "ready (2nd attempt)", left,
    )  # fmt: skip


def test_worker_lost_with_its_run_and_ffmpeg_is_recovered_by_the_stall_guard(
    worker: FaultWorker, fault_api: httpx.Client, stack: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    """Nothing reports the run's end: it stays Running until a trigger finds its row has not
    moved for preview_stall_s, marks it Crashed and launches again."""
    sha = promoted_clip(stack, tmp_path, "host.mp4", seconds=9)
    run_id = trigger(fault_api, sha)["flow_run_id"]
    wait_for("the ladder's ffmpeg runs", lambda: _encoding(worker, run_id), 120, 0.02)

    killed = kill_tree(worker.pid)
    killed_at = time.monotonic()
    assert wait_gone(killed, 15) == []
    worker.ensure()  # the supervisor starts a new worker (or another host has one)
    assert _states(sha) == ["RUNNING"]  # a lost host reports nothing

    # 60 s of stall window, a new worker and a new flow-run process (~40 s to start on a
    # busy 2-core box), then the build.
    recovery_s, left = _recovered(fault_api, stack, sha, killed_at, within_s=180)
    fault_table.add(
        "3c host", "SIGKILL worker + flow-run process + ffmpeg (every process group)",
        recovery_s, "ready (stall guard relaunched)", left,
    )  # fmt: skip
