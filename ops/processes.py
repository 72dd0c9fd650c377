"""The processes of the local stack, shared by `dailies up` and the tests: moto's S3 server,
a Prefect server, the API under uvicorn and `prefect worker`s (the nginx edge is started by
ops.edge through `spawn`). Each runs in its own process group so that stopping one
stops its children (a worker's flow-run subprocesses, uvicorn's reloader, Prefect's
uvicorn workers)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ops import PROJECT_DIR

BIN_DIR = Path(sys.executable).parent
# Service logs: owner and group. Request lines and errors are not for every local user.
LOG_MODE = 0o640

# A worker asks for work this often; Prefect's default (10 s) would be most of a first play
# (bench/first_play.py). Half a second costs one cheap query to the Prefect server per poll.
WORKER_QUERY_S = "0.5"
WORKER_HEARTBEAT_S = "5"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s: {last}")


@dataclass
class Service:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM

    def stop(self, timeout_s: float = 10) -> None:
        if self.proc.poll() is not None:
            return
        # Own process group: stop the children too, not just the process we started.
        os.killpg(self.proc.pid, self.stop_signal)
        if self.stop_signal == signal.SIGINT:
            self._interrupt_again(timeout_s)
        elif not self._exits_within(timeout_s):
            self._kill()

    def _interrupt_again(self, timeout_s: float) -> None:
        """asyncio (3.11) cancels its main task on the first SIGINT, and that cancellation can
        be swallowed mid-await (a websocket handshake under load); a second SIGINT raises
        KeyboardInterrupt in the loop and ends it. Still running after that: its stacks go
        to the log (faulthandler, set at spawn, on SIGABRT) before the SIGKILL."""
        if self._exits_within(timeout_s / 2):
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        if self._exits_within(timeout_s / 2):
            return
        os.kill(self.proc.pid, signal.SIGABRT)
        self._exits_within(2)
        self._kill()

    def _exits_within(self, timeout_s: float) -> bool:
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def spawn(
    name: str,
    args: list[str],
    url: str,
    log_path: Path,
    env: dict[str, str],
    cwd: Path | None = None,
    umask: int | None = None,
) -> Service:
    """Start `args` in a new session (its own process group), output appended to log_path,
    with SIGINT at its default whatever this process inherited. The log is 0640: what a
    service prints (an nginx error names the request line) is not for every local user.
    `umask`, when given, is the child's: for the files it creates itself (nginx's access log)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LOG_MODE)
    os.fchmod(fd, LOG_MODE)  # a log left by an earlier start keeps the mode it was made with
    with open(fd, "ab") as log:  # the child holds its own descriptor
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True, preexec_fn=partial(_in_child, umask),
        )  # fmt: skip
    return Service(name, url, proc, log_path)


def _in_child(umask: int | None) -> None:
    """In the child, before exec. A shell starts background jobs with SIGINT ignored, and an
    ignored signal survives exec: the task worker and `prefect worker`, which stop on SIGINT,
    then never stop (CI and `make soak` run in the background). Only SIG_IGN is inherited,
    so setting the default here is what every exec'd program then starts with."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if umask is not None:
        os.umask(umask)


def start_moto(port: int, log_dir: Path) -> Service:
    """moto's HTTP server: the S3 of tests and of the embedded default."""
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    url = f"http://127.0.0.1:{port}"
    # Through ops/moto_server.py: moto's request log, redacted (presigned URLs' signatures).
    args = [sys.executable, "-m", "ops.moto_server", "-H", "127.0.0.1", "-p", str(port)]
    service = spawn("s3", args, url, log_dir / "moto.log", env)
    wait_http(f"{url}/moto-api/data.json", 30, service.proc)
    return service


def start_prefect_server(
    port: int, home: Path, log_dir: Path, timeout_s: float = 180, database_url: str | None = None
) -> Service:
    """A real Prefect server on `database_url` (Postgres, asyncpg), or on its own SQLite
    database under `home`."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_DATABASE_CONNECTION_URL": database_url
            or f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": env.get("PREFECT_UI_ENABLED", "true"),
            # `--port` alone leaves the UI calling 127.0.0.1:4200/api: tell it where it is.
            "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        }
    )
    env.pop("PREFECT_API_URL", None)
    prefect = shutil.which("prefect", path=str(BIN_DIR)) or "prefect"
    url = f"http://127.0.0.1:{port}/api"
    args = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    service = spawn("prefect", args, url, log_dir / "prefect-server.log", env)
    try:
        wait_http(f"{url}/health", timeout_s, service.proc)
    except BaseException:
        service.stop()  # never leave a half-started server behind
        raise
    return service


def drain_prefect_clients() -> None:
    """Flush this process's queued Prefect logs and events before its server goes away;
    otherwise the log worker retries a dead server for a minute at exit."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        try:
            logs = APILogWorker.instance().drain()
            if inspect.isawaitable(logs):
                await logs
        except RuntimeError:  # never started
            pass
        events = EventsWorker.drain_all()
        if inspect.isawaitable(events):
            await events

    run_coro_as_sync(drain())


def start_api(port: int, env: dict[str, str], log_dir: Path, timeout_s: float = 120) -> Service:
    """`uvicorn api.app:app`, the way an operator runs it."""
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    service = spawn("api", args, url, log_dir / "api.log", env, cwd=PROJECT_DIR)
    try:
        wait_http(f"{url}/healthz", timeout_s, service.proc)
    except BaseException:
        service.stop()
        raise
    return service


def start_worker(
    pool: str, env: dict[str, str], log_dir: Path, nice: int = 0, incarnation: int = 1
) -> Service:
    """A `dailies worker` (Prefect's process worker) for one work pool, polling every
    WORKER_QUERY_S seconds, at `nice` (its flow-run processes and their ffmpeg children
    inherit it). Each start has a name of its own (`dailies-cpu-worker-2` after one
    restart): the UI shows the dead one Offline rather than the same name Online throughout,
    and its runs, which outlive it, keep the name of the worker that started them."""
    worker_env = {
        **env,
        "PREFECT_WORKER_QUERY_SECONDS": WORKER_QUERY_S,
        "PREFECT_WORKER_HEARTBEAT_SECONDS": WORKER_HEARTBEAT_S,
        # (Flow-run heartbeats come with each deployment's env, prefect.yaml's run_env.)
    }
    # `dailies worker`, not `prefect worker start`: a stopped or replaced worker leaves its
    # builds running (ops/worker.py); stopping the stack ends them with the rest (orphans).
    args = [str(BIN_DIR / "dailies"), "worker", "--pool", pool,
            "--name", f"dailies-{pool}-worker-{incarnation}"]  # fmt: skip
    name = f"{pool}-worker"
    service = spawn(name, args, "", log_dir / f"{name}.log", worker_env, cwd=PROJECT_DIR)
    if nice:
        # Set from here rather than in the child (no preexec_fn in a threaded parent); the
        # worker has not forked a flow run yet, so every run starts at this niceness.
        os.setpriority(os.PRIO_PROCESS, service.proc.pid, nice)
    return service


def start_task_worker(env: dict[str, str], log_dir: Path, timeout_s: float = 60) -> Service:
    """`dailies task-worker` (Prefect's task worker for the first rendition, warmed up): a
    process that is already running when a reviewer's 404 arrives, so the first segments do
    not wait for a Python start."""
    args = [str(BIN_DIR / "dailies"), "task-worker", "--limit", "4"]
    log_path = log_dir / "task-worker.log"
    # A restart appends to the same log: only what this process writes counts.
    offset = len(_read(log_path))
    # Unbuffered: a line it wrote before being killed is in the log, not lost in a buffer.
    diagnosable = {**env, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    service = spawn("task-worker", args, "", log_path, diagnosable, cwd=PROJECT_DIR)
    # SIGINT, not SIGTERM: Prefect's task worker answers SIGTERM with a StopTaskWorker
    # traceback in its log on every clean stop; on SIGINT it says one line and exits.
    service.stop_signal = signal.SIGINT
    deadline = time.monotonic() + timeout_s
    # Ready = the Prefect server lists it among its task workers: its subscription is open, so
    # a run submitted now reaches it (the "Subscribing" log line comes before the websocket
    # is connected; a stop signal in between could be lost in the handshake).
    api_url = env.get("PREFECT_API_URL")
    while not (
        b"Subscribing to runs" in _read(log_path)[offset:]
        and (api_url is None or _task_worker_listed(api_url, service.proc.pid))
    ):
        if service.proc.poll() is not None:
            raise RuntimeError(f"the task worker exited with {service.proc.returncode}; "
                               f"see {log_path}")  # fmt: skip
        if time.monotonic() > deadline:
            service.stop()
            raise TimeoutError(f"the task worker did not subscribe within {timeout_s}s")
        time.sleep(0.1)
    return service


def _task_worker_listed(api_url: str, pid: int) -> bool:
    """Whether the server has an open subscription from this process (Prefect names a task
    worker `{hostname}-{pid}`)."""
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/task_workers/filter", data=b"{}", method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            workers = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return any(w.get("identifier") == f"{socket.gethostname()}-{pid}" for w in workers)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


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
