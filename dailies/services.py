"""Start and stop the local processes the embedded stack and the tests share:
moto's S3 server and a Prefect server. Both are real servers reached over HTTP."""

from __future__ import annotations

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
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
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

    def stop(self, timeout_s: float = 10) -> None:
        if self.proc.poll() is not None:
            return
        # Own process group: Prefect's server forks uvicorn workers; stop them all.
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _spawn(args: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed at exit
    return subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def start_moto(port: int, log_dir: Path) -> Service:
    """moto's HTTP server: the S3 of tests and of the embedded default."""
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    log_path = log_dir / "moto.log"
    proc = _spawn(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log_path, env
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/moto-api/data.json", 30, proc)
    return Service("s3", url, proc, log_path)


def start_prefect_server(port: int, home: Path, log_dir: Path, timeout_s: float = 90) -> Service:
    """A real Prefect server on its own SQLite database under `home`."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": env.get("PREFECT_UI_ENABLED", "true"),
        }
    )
    env.pop("PREFECT_API_URL", None)
    prefect = shutil.which("prefect", path=str(Path(sys.executable).parent)) or "prefect"
    log_path = log_dir / "prefect-server.log"
    proc = _spawn(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], log_path, env
    )
    url = f"http://127.0.0.1:{port}/api"
    wait_http(f"{url}/health", timeout_s, proc)
    return Service("prefect", url, proc, log_path)


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
