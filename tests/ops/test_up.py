"""`dailies up` as ops use it: reachable from other shells and Prefect's CLI, the UI on the
stack's port, one-line errors, supervision (dead workers come back, stopping ends everything)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops import orphans
from ops.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.stack]

SESSION_PREFIXES = ("DAILIES_", "PREFECT_", "AWS_")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # it may exit between the two looks
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str,
    log: Path | None = None,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        said = log.read_text() if log else ""
        assert proc is None or proc.poll() is None, f"dailies up exited: {said}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {said}"
        time.sleep(0.2)


@dataclass
class RunningUp:
    proc: subprocess.Popen[bytes]
    home: Path
    log: Path
    env: dict[str, str]
    ports: dict[str, str]

    @property
    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "stack.json").read_text()))

    def dailies(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A `dailies` command from another shell: it knows only DAILIES_HOME."""
        return subprocess.run(
            [DAILIES, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )


DAILIES = str(Path(sys.executable).parent / "dailies")


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SESSION_PREFIXES)}
    env["DAILIES_HOME"] = str(home)
    return env


@contextlib.contextmanager
def _running_up(
    tmp: Path, ports: dict[str, str] | None = None, log_name: str = "up.log"
) -> Iterator[RunningUp]:
    """`dailies up` as ops run it, on non-default ports, the Prefect UI on."""
    home = tmp / "home"
    ports = ports or {name: str(free_port()) for name in ("edge", "api", "prefect")}
    running = RunningUp(None, home, tmp / log_name, _clean_env(home), ports)  # type: ignore[arg-type]
    with running.log.open("w") as log:
        running.proc = subprocess.Popen(
            [DAILIES, "up", "--edge-port", ports["edge"], "--api-port", ports["api"],
             "--prefect-port", ports["prefect"], "--no-gpu"],
            env=running.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait((home / "stack.json").exists, 240, "the stack to start", running.log, running.proc)
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGTERM)
            running.proc.wait(90)


# Left in the stack's folder "by a last run" before the module's stack starts.
PLANTED = Path("stack") / "left-by-a-last-run"


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningUp]:
    """One stack that this module's tests share; none of them stops it."""
    tmp = tmp_path_factory.mktemp("up")
    (tmp / "home" / PLANTED).parent.mkdir(parents=True)
    (tmp / "home" / PLANTED).write_text("a catalog pointing at objects moto no longer has")
    with _running_up(tmp) as running:
        yield running


def test_up_prints_the_edge_the_api_docs_and_the_prefect_ui(up: RunningUp) -> None:
    _wait(lambda: "Ctrl-C stops everything." in up.log.read_text(), 60, "the URLs", up.log)
    said = up.log.read_text()
    said = said[said.index("dailies is up:") :]
    host = "http://127.0.0.1"
    for label, url in (("edge", f"{host}:{up.ports['edge']}"),
                       ("API docs", f"{host}:{up.ports['api']}/docs"),
                       ("Prefect UI", f"{host}:{up.ports['prefect']}")):  # fmt: skip
        assert re.search(rf"^  {label} +{re.escape(url)}$", said, re.M), said
    assert httpx.get(f"{host}:{up.ports['api']}/docs", timeout=10).status_code == 200


def test_state_lives_under_dailies_home_and_the_stack_folder_starts_fresh(up: RunningUp) -> None:
    assert not (up.home / PLANTED).exists()
    assert (up.home / "stack.json").is_file()
    assert Path(up.state["urls"]["logs"]).resolve() == (up.home / "stack" / "logs").resolve()
    catalog = up.state["env"]["DAILIES_DATABASE_URL"].removeprefix("sqlite:///")
    assert Path(catalog).resolve().is_relative_to((up.home / "stack").resolve())


def test_workers_ask_prefect_for_runs_every_half_second(up: RunningUp) -> None:
    """Prefect's default (10 s) would be most of the wait for a ladder to start."""
    pid = up.state["services"]["cpu-worker"]
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    environ = dict(entry.split("=", 1) for entry in raw if "=" in entry)
    assert environ["PREFECT_WORKER_QUERY_SECONDS"] == "0.5"


def test_the_prefect_ui_calls_the_api_on_the_port_the_stack_uses(up: RunningUp) -> None:
    prefect_api = up.state["urls"]["prefect_api"]
    assert not prefect_api.endswith(":4200/api")
    settings = httpx.get(prefect_api.removesuffix("/api") + "/ui-settings", timeout=10).json()
    assert settings["api_url"] == prefect_api


def test_the_ui_shows_only_what_this_host_can_run(up: RunningUp) -> None:
    """No GPU worker here (--no-gpu): the gpu pool is paused and says why, not shown red with
    preview-gpu "Not Ready"; every automation bootstrap skipped is said, with the step."""
    prefect_api = up.state["urls"]["prefect_api"]
    gpu = httpx.get(f"{prefect_api}/work_pools/gpu", timeout=10).json()
    cpu = httpx.get(f"{prefect_api}/work_pools/cpu", timeout=10).json()
    assert gpu["is_paused"] is True and gpu["description"].startswith("PAUSED: no GPU worker")
    assert cpu["is_paused"] is False
    said = up.log.read_text()
    assert (
        "automation dailies-notify-audit-critical-findings skipped: no block named "
        "dailies-ops: create it in the Prefect UI (Blocks)"
    ) in said


def test_on_moto_it_says_at_start_that_any_signature_passes(up: RunningUp) -> None:
    """moto accepts forged and expired presigned URLs and unsigned writes (issue 25): whoever
    keeps this stack running for a team is told, before it is up, and what to run instead."""
    said = up.log.read_text()
    warning = [line for line in said.splitlines() if "accepts any signature" in line]
    assert warning and "for trying things alone" in warning[0], said
    assert "`dailies up --store rgw`" in said
    assert said.index("accepts any signature") < said.index("dailies is up:")


def test_other_shells_reach_the_running_stack(up: RunningUp) -> None:
    created = up.dailies("keys", "create", "--role", "reviewer", "--name", "ops")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("dly_")  # the token alone on stdout
    assert "reviewer key 'ops' (id " in created.stderr and "shown once" in created.stderr
    # `dailies audit` runs the stack's integrity-audit deployment on its worker and answers
    # with the summary and the run's link; this module promotes nothing: clean, 0 objects. Run
    # before the audit `prefect deployment run` starts below (concurrency 1, CANCEL_NEW).
    audited = up.dailies("audit")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    summary, link = audited.stdout.strip().splitlines()
    assert summary == "clean: 0 objects, 0 bytes re-hashed", audited.stdout
    ui = re.escape(f"http://127.0.0.1:{up.ports['prefect']}/runs/flow-run/")
    launched = re.fullmatch(rf"\(run audit-\d{{4}}-\d\d-\d\d-\d{{4}}: {ui}(\S+)\)", link)
    assert launched, link
    prefect_api = up.state["urls"]["prefect_api"]
    run = httpx.get(f"{prefect_api}/flow_runs/{launched[1]}", timeout=10).json()
    assert run["state_type"] == "COMPLETED", run
    deployment = httpx.get(f"{prefect_api}/deployments/{run['deployment_id']}", timeout=10)
    assert deployment.json()["name"] == "integrity-audit", deployment.text
    listed = subprocess.run(
        ["bash", "-c", f'eval "$({DAILIES} env)" && prefect deployment ls'],
        env=up.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "build-preview/preview-cpu" in listed.stdout
    ran = subprocess.run(
        ["bash", "-c",
         f'eval "$({DAILIES} env)" && prefect deployment run integrity-audit/integrity-audit'],
        env=up.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "Created flow run" in ran.stdout, ran.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("preview", "nothex"), 2, "preview refused: "),
        (("preview", "ab" * 32), 2, "no promoted master with sha256"),
        (("keys", "revoke", "nope"), 1, "no active key matches 'nope'"),
        (("keys", "create", "--role", "boss"), 2, "role must be one of"),
    ],
)
def test_expected_errors_are_one_line(
    up: RunningUp, args: tuple[str, ...], code: int, says: str
) -> None:
    done = up.dailies(*args)
    assert done.returncode == code, done.stdout + done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_without_a_stack_commands_say_so_at_once_and_leave_nothing(tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "fresh")
    for args in (("keys", "create", "--role", "reviewer"), ("preview", "ab" * 32)):
        done = subprocess.run([DAILIES, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 2 and "start the stack with `dailies up`" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list((tmp_path / "fresh").rglob("*.db"))  # no stray empty database
    before = _tree(tmp_path / "fresh")
    missing = subprocess.run(
        [DAILIES, "demo", str(tmp_path / "missing.mov")], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "no such master file" in missing.stderr
    # Refused before any stack starts: one would leave its logs and state in the home.
    assert _tree(tmp_path / "fresh") == before
    env_out = subprocess.run([DAILIES, "env"], env=env, capture_output=True, text=True)
    assert env_out.returncode == 1 and "no stack is running" in env_out.stderr


def _tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def test_work_pool_workers_yield_the_cpu_to_the_first_rendition(up: RunningUp) -> None:
    """Ladder flow runs inherit their worker's niceness; the task worker and the API, which
    a reviewer waits on, keep the default."""
    from dailies.settings import Settings

    services = up.state["services"]
    nice = Settings().worker_nice
    assert nice > 0
    assert os.getpriority(os.PRIO_PROCESS, services["cpu-worker"]) == nice
    for name in ("task-worker", "api"):
        assert os.getpriority(os.PRIO_PROCESS, services[name]) == 0


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys, time
    from ops import orphans

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
    deadline = time.monotonic() + 30  # failure timeouts: the kernel re-parents it at once
    while run_pid not in orphans.orphans(keep=()) and time.monotonic() < deadline:
        time.sleep(0.1)
    found = sorted(orphans.orphans(keep=()))
    orphans.end(found, grace_s=1.0)
    # SIGKILLed by end(); on a busy box it may exit after end()'s last reap: reap until gone
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{run_pid}") and time.monotonic() < deadline:
        orphans.reap()
        time.sleep(0.1)
    print(json.dumps({"run": run_pid, "found": found,
                      "alive": os.path.exists(f"/proc/{run_pid}")}))
    """
)


def test_orphaned_flow_runs_are_found_and_ended_even_when_they_ignore_sigterm() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ORPHAN_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["run"] in report["found"]
    assert report["alive"] is False


def test_scratch_left_by_killed_builds_is_swept(tmp_path: Path) -> None:
    from ops.up import sweep_scratch

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
