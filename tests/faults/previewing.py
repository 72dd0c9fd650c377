"""Preview helpers for the fault cases: a small master promoted, the player's trigger loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from dailies.clients import s3_client
from tests import preview_fixtures as media
from tests.api.prefect_helpers import run_histories, runs_for_sha
from tests.faults.conftest import SCRATCH, FaultWorker
from tests.faults.outcome import leftovers, preview_problems, published_problems, wait_for
from tests.faults.procs import ffmpeg_children, flow_run_process

LADDER = "var_stream_map"  # only the ladder's ffmpeg has it


def encoding(worker: FaultWorker, run_id: str) -> tuple[int, list[int]] | None:
    """(flow-run pid, its ladder ffmpeg pids) once the run's ladder ffmpeg runs."""
    pid = flow_run_process(worker.pid, run_id)
    ffmpeg = ffmpeg_children(pid, LADDER) if pid else []
    return (pid, ffmpeg) if pid and ffmpeg else None


def promoted_clip(stack: Any, tmp_path: Path, name: str, seconds: float = 8) -> str:
    """A 640x360 H.264/AAC master of `seconds`, staged and promoted (in this process)."""
    clip = media.make_small(tmp_path / name, seconds)
    return media.stage_and_promote(s3_client(stack), stack, clip)


def ladder_segment_put(sha: str) -> Callable[[str, str, dict[str, str]], bool]:
    """A FlakyS3 matcher: PUTs of the ladder's segments for `sha`, not the stream copy's
    (`source/`), whose head start gives up on failure by design."""

    def matches(method: str, path: str, _: dict[str, str]) -> bool:
        key = path.split("?")[0]
        ladder = f"/{sha}/" in key and "/source/" not in key
        return method == "PUT" and ladder and key.endswith(".m4s")

    return matches


def trigger(api: httpx.Client, sha: str) -> dict[str, Any]:
    response = api.post("/api/preview", json={"sha": sha})
    assert response.status_code in (200, 202), response.text
    return dict(response.json())


def until_ready(api: httpx.Client, sha: str, timeout_s: float = 120) -> float:
    """Trigger as the player does (each answer's retry_after_s apart) until the preview is
    ready; return when that was (time.monotonic)."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = trigger(api, sha)
        if body["status"] == "ready":
            return time.monotonic()
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"not ready within {timeout_s} s: {body}\nruns:\n{run_histories(sha)}"
            )
        time.sleep(min(float(body.get("retry_after_s") or 1), 1.0))


def ready_unasked(stack: Any, sha: str, timeout_s: float = 120) -> float:
    """Wait, with no request to the API from anyone, until the previews row is ready: what
    the system finishes on its own (the liveness sweep); return when (time.monotonic)."""
    from dailies.clients import session_scope
    from dailies.db.models import Preview

    deadline = time.monotonic() + timeout_s
    while True:
        with session_scope(stack) as session:
            row = session.get(Preview, sha)
            status = row.status if row is not None else None
        if status == "ready":
            return time.monotonic()
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"not ready within {timeout_s} s with nobody asking: {status}\n"
                f"runs:\n{run_histories(sha)}"
            )
        time.sleep(0.2)


def final_states(sha: str, timeout_s: float = 60) -> list[str]:
    """The state types of the master's preview runs once none is still going: a run marks
    its row ready a moment before Prefect hears it has completed."""

    def settled() -> list[str] | None:
        states = [r.state for r in runs_for_sha(sha)]
        final = all(s is not None and s.is_final() for s in states)
        return sorted(s.type.value for s in states if s is not None) if final else None

    return wait_for(f"every preview run of {sha[:12]} final", settled, timeout_s, 0.2)


def assert_recovered(stack: Any, sha: str) -> list[str]:
    """Ready with every object in place, and nothing left behind; returns the leftovers."""
    assert preview_problems(stack, sha) == []
    left = leftovers(SCRATCH, stack, sha)
    assert left == []
    return left


def assert_nothing_half_published(stack: Any, sha: str) -> None:
    assert published_problems(stack, sha, final=False) == []
