"""The processes of the local stack besides moto and the Prefect server (dailies.services):
the API under uvicorn and `prefect worker`s. Each runs in its own process group so that
stopping one stops its children (a worker's flow-run subprocesses, uvicorn's reloader)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from dailies.services import Service, wait_http

PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent

# A worker asks for work this often; Prefect's default (10 s) would be most of a first play
# (bench/first_play.py). Half a second costs one cheap query to the Prefect server per poll.
WORKER_QUERY_S = "0.5"
WORKER_HEARTBEAT_S = "5"


def spawn(name: str, args: list[str], url: str, log_dir: Path, env: dict[str, str]) -> Service:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:  # the child holds its own descriptor
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_DIR,
            start_new_session=True,
        )  # fmt: skip
    return Service(name, url, proc, log_path)


def start_api(port: int, env: dict[str, str], log_dir: Path, timeout_s: float = 60) -> Service:
    """`uvicorn api.app:app`, the way an operator runs it."""
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    service = spawn("api", args, url, log_dir, env)
    try:
        wait_http(f"{url}/healthz", timeout_s, service.proc)
    except BaseException:
        service.stop()
        raise
    return service


def start_worker(pool: str, env: dict[str, str], log_dir: Path) -> Service:
    """A `prefect worker` for one work pool, polling every second."""
    worker_env = {
        **env,
        "PREFECT_WORKER_QUERY_SECONDS": WORKER_QUERY_S,
        "PREFECT_WORKER_HEARTBEAT_SECONDS": WORKER_HEARTBEAT_S,
    }
    args = [str(BIN_DIR / "prefect"), "worker", "start", "--pool", pool,
            "--name", f"dailies-{pool}-worker"]  # fmt: skip
    return spawn(f"{pool}-worker", args, "", log_dir, worker_env)


def wait_for_workers(pools: list[str], services: list[Service], timeout_s: float = 90) -> None:
    """Until every pool has an ONLINE worker: a flow run launched earlier would just wait."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    waiting = set(pools)
    with get_client(sync_client=True) as client:
        while waiting:
            for service in services:
                if service.proc.poll() is not None:
                    raise RuntimeError(
                        f"{service.name} exited with {service.proc.returncode}; "
                        f"see {service.log_path}"
                    )
            for pool in list(waiting):
                workers = client.read_workers_for_work_pool(pool)
                if any(w.status.value == "ONLINE" for w in workers):
                    waiting.discard(pool)
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"no worker came online for {sorted(waiting)}")
            if waiting:
                time.sleep(0.3)
