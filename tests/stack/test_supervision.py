"""`dailies up` supervises: dead workers come back, stopping ends everything they started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dailies.stack import orphans

pytestmark = pytest.mark.slow

SESSION_PREFIXES = ("DAILIES_", "PREFECT_", "AWS_")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _wait(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_killed_workers_are_restarted_and_stopping_ends_every_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SESSION_PREFIXES)}
    home = tmp_path / "home"
    env.update({"DAILIES_HOME": str(home), "PREFECT_UI_ENABLED": "false"})
    dailies = str(Path(sys.executable).parent / "dailies")
    out = tmp_path / "up.log"
    with out.open("w") as log:
        up = subprocess.Popen(
            [dailies, "up", "--edge-port", "0", "--api-port", "0", "--prefect-port", "0",
             "--no-gpu"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    state_file = home / "stack.json"
    try:
        _wait(state_file.exists, 180, f"the stack to start (log: {out.read_text()})")
        first = json.loads(state_file.read_text())["services"]
        assert {"cpu-worker", "task-worker", "api", "s3", "prefect"} <= set(first)

        # A host losing its workers: SIGKILL, whole process groups.
        for name in ("cpu-worker", "task-worker"):
            os.killpg(first[name], signal.SIGKILL)

        def restarted() -> bool:
            services = json.loads(state_file.read_text())["services"]
            return all(
                services[n] != first[n] and _alive(services[n])
                for n in ("cpu-worker", "task-worker")
            )

        _wait(restarted, 120, "both workers to be restarted")
        text = out.read_text()
        assert "cpu-worker exited with -9; restarting it" in text
        assert "task-worker exited with -9; restarting it" in text
        assert up.poll() is None  # the stack lives on
        services = json.loads(state_file.read_text())["services"]
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(60)
    assert up.returncode == 0, out.read_text()
    for name, pid in services.items():
        assert not _alive(pid), f"{name} ({pid}) outlived the stack"
    assert not state_file.exists()


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys, time
    from dailies.stack import orphans

    assert orphans.become_subreaper()
    # A "worker" that starts a "flow run" in a session of its own, which ignores SIGTERM
    # (as Prefect's flow-run processes may), then the worker is killed.
    worker = subprocess.Popen([sys.executable, "-c", '''
    import subprocess, sys, time
    run = subprocess.Popen(["bash", "-c", "trap '' TERM; sleep 600"], start_new_session=True)
    print(run.pid, flush=True)
    time.sleep(600)
    '''], stdout=subprocess.PIPE, text=True)
    run_pid = int(worker.stdout.readline())
    worker.kill(); worker.wait()
    deadline = time.monotonic() + 10
    while run_pid not in orphans.orphans(keep=()) and time.monotonic() < deadline:
        time.sleep(0.1)
    found = sorted(orphans.orphans(keep=()))
    orphans.end(found, grace_s=1.0)
    print(json.dumps({"run": run_pid, "found": found,
                      "alive": os.path.exists(f"/proc/{run_pid}")}))
    """
)


def test_orphaned_flow_runs_are_found_and_ended_even_when_they_ignore_sigterm() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ORPHAN_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["run"] in report["found"]
    assert report["alive"] is False


def test_scratch_left_by_killed_builds_is_swept(tmp_path: Path) -> None:
    from dailies.stack.up import sweep_scratch

    (tmp_path / "dailies-preview-abc-1" / "hls").mkdir(parents=True)
    (tmp_path / "dailies-first-def-2").mkdir()
    (tmp_path / "someone-elses").mkdir()
    said: list[str] = []
    sweep_scratch(tmp_path, said.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["someone-elses"]
    assert said == [f"swept 2 scratch folder(s) left by killed builds in {tmp_path}"]


def test_descendants_follow_the_whole_tree() -> None:
    table = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1}
    assert orphans.descendants([10], table) == {11, 12, 13}
    assert orphans.descendants([20], table) == set()
