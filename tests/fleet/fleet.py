"""The production shape of ops/fleet.py, brought up on hosts of tests/fleet/hosts.py: the
same commands and settings the README's "Scaling out" prints, nothing more.

db (Postgres cluster of its own + Redis), s3 (Ceph RGW), ctl1 (the Prefect API replica that
migrates, and Prefect's services), ctl2 (a second replica), lb (nginx before both), api1 and
api2 (the dailies API), edge (nginx before the API replicas and the previews bucket), w1 and
w2 (a cpu-pool worker and one first-rendition task worker per Prefect replica each)."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ops import PROJECT_DIR
from ops.fleet import Process, fill, lb_config, role
from ops.processes import Service, wait_http
from tests.fleet.hosts import Host, Network

BIN_DIR = Path(sys.executable).parent
LAYOUT = {  # host -> role
    "db": "db", "s3": "s3", "ctl1": "ctl-first", "ctl2": "ctl", "lb": "lb",
    "api1": "api", "api2": "api", "edge": "edge", "w1": "worker", "w2": "worker",
}  # fmt: skip
REPLICAS = ("ctl1", "ctl2")
LINES: list[str] = []  # the scenarios' figures, printed at the end of the run


def report(line: str) -> None:
    LINES.append(f"FLEET {line}")


APIS = ("api1", "api2")
WORKERS = ("w1", "w2")


@dataclass
class Fleet:
    network: Network
    values: dict[str, str]

    def host(self, name: str) -> Host:
        return self.network.hosts[name]

    def address(self, name: str) -> str:
        return self.host(name).address

    @property
    def edge_url(self) -> str:
        return f"http://{self.address('edge')}:8080"

    @property
    def prefect_url(self) -> str:
        return f"http://{self.address('lb')}:4200/api"

    def _values(self, host: str, replica: str | None) -> dict[str, str]:
        """The table's placeholders as seen from `host` (and the replica a process serves)."""
        return {**self.values, "self": self.address(host), "hostname": host,
                "data": str(self.host(host).root / "data"),
                "replica": self.address(replica) if replica else ""}  # fmt: skip

    def env(self, host: str, process: Process, replica: str | None = None) -> dict[str, str]:
        """A process's whole environment on `host`: the table's settings, this checkout's
        Python first on PATH, and the host's own homes."""
        root = self.host(host).root
        values = self._values(host, replica)
        env = {
            "PATH": f"{BIN_DIR}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(root / "home"),
            "DAILIES_HOME": str(root / "home"),
            "PREFECT_HOME": str(root / "prefect"),
            "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8",
        }
        env.update({name: fill(value, values) for name, value in process.env.items()})
        return env

    def argv(self, host: str, process: Process, replica: str | None = None) -> list[str]:
        args = [fill(arg, self._values(host, replica)) for arg in process.argv]
        if process.name == "edge":  # one --api per API replica
            args = args[:2] + [
                a for api in APIS for a in ("--api", f"http://{self.address(api)}:8000")
            ]
        if process.name == "postgres":
            args = ["runuser", "-u", "postgres", "--", _pg_bin("postgres"), *args[1:],
                    "-k", "/tmp"]  # fmt: skip
        return args

    def start(self, host: str, process: Process, replica: str | None = None) -> Service:
        name = f"{process.name}-{replica}" if replica else process.name
        return self.host(host).start(
            name, self.argv(host, process, replica), self.env(host, process, replica)
        )

    def run(self, host: str, args: list[str], process: Process, timeout_s: float = 300) -> str:
        """A one-off command on `host` with a process's settings (bootstrap, keys)."""
        done = subprocess.run(
            [*self.host(host).enter(), *args], env=self.env(host, process), cwd=PROJECT_DIR,
            capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{host}: {args}: {done.stdout}{done.stderr}")
        return done.stdout

    def restart(self, host: str, name: str) -> Service:
        """Stop one of the host's services as its service manager would (Postgres: a fast
        shutdown) and start it again with the same command."""
        on = self.host(host)
        old = next(s for s in on.services if s.name == name and s.proc.poll() is None)
        if name == "postgres":
            old.stop_signal = signal.SIGINT
        old.stop(30)
        on.services.remove(old)
        # The wrappers (nsenter, runuser) exit at the signal; the server itself may still be
        # shutting down (Postgres writes its checkpoint): a new one would find it there.
        if name == "postgres":
            pid_file = on.root / "data" / "pg" / "postmaster.pid"
            _until(lambda: not pid_file.exists(), "the old postmaster gone", 120)
        elif name == "redis":
            import redis as redis_lib

            old_redis = redis_lib.Redis(host=self.address(host), port=6379, socket_timeout=1)
            _until(lambda: not _pings(old_redis), "the old redis-server gone", 60)
        return self.start(host, _process(LAYOUT[host], name))

    def power_on(self, host: str) -> None:
        """A killed worker host booted again with its role's processes, until its workers
        are back (its cpu worker online, its task workers subscribed to every replica)."""
        assert LAYOUT[host] == "worker", host
        on = self.host(host)
        on.services.clear()
        booted = datetime.now(UTC)
        on.boot()
        _start_worker_host(self, host)
        _until(partial(_beat_since, self.prefect_url, f"{host}-cpu", booted), f"{host}'s worker")
        _wait_task_workers(self, len(WORKERS))

    def close(self) -> None:
        self.network.close()


def _pg_bin(name: str) -> str:
    """A PostgreSQL server program: Debian keeps them out of PATH."""
    bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    dirs = [Path(bindir.stdout.strip())] if bindir.returncode == 0 else []
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    found = [d / name for d in dirs if (d / name).exists()]
    return str(found[0]) if found else shutil.which(name) or name


def _process(role_name: str, name: str) -> Process:
    return next(p for p in role(role_name).processes if p.name == name)


def bring_up(root: Path) -> Fleet:
    network = Network(root)
    fleet = Fleet(network, {})
    try:
        for host in LAYOUT:
            network.add(host)
        addresses = {name: host.address for name, host in network.hosts.items()}
        fleet.values = {
            "db": addresses["db"], "s3": addresses["s3"], "lb": addresses["lb"],
            "edge": addresses["edge"], "api": addresses["api1"],
            "grant_secret": secrets.token_urlsafe(32),
            "s3_key": "fleet", "s3_secret": secrets.token_urlsafe(20),
        }  # fmt: skip
        _start_db(fleet)
        _start_s3(fleet)
        _start_prefect(fleet)
        _bootstrap(fleet)
        _start_apis_and_edge(fleet)
        _start_workers(fleet)
    except BaseException:
        fleet.close()
        raise
    return fleet


def _start_db(fleet: Fleet) -> None:
    data = fleet.host("db").root / "data" / "pg"
    data.parent.mkdir(parents=True, exist_ok=True)
    shutil.chown(data.parent, "postgres")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", _pg_bin("initdb"), "-D", str(data), "-A", "trust",
         "-U", "postgres", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write("host all all 0.0.0.0/0 trust\n")
    postgres = fleet.start("db", _process("db", "postgres"))
    redis = fleet.start("db", _process("db", "redis"))
    import psycopg
    import redis as redis_lib

    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(
                f"postgresql://postgres@{fleet.address('db')}:5432/postgres", autocommit=True
            ) as conn:
                conn.execute("CREATE DATABASE dailies")
                conn.execute("CREATE DATABASE prefect")
            break
        except psycopg.OperationalError:
            if postgres.proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    while not _pings(redis_lib.Redis(host=fleet.address("db"), port=6379)):
        assert redis.proc.poll() is None and time.monotonic() < deadline, "redis did not start"
        time.sleep(0.2)


def _start_s3(fleet: Fleet) -> None:
    """The s3 host's RGW, until it answers a request signed with the fleet's keys (its user
    is made after the gateway first answers)."""
    import boto3
    from botocore.config import Config

    s3 = fleet.start("s3", _process("s3", "s3"))
    client = boto3.client(
        "s3", endpoint_url=f"http://{fleet.address('s3')}:5000", region_name="us-east-1",
        aws_access_key_id=fleet.values["s3_key"], aws_secret_access_key=fleet.values["s3_secret"],
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
    )  # fmt: skip

    def signed_request_answered() -> bool:
        assert s3.proc.poll() is None, f"dailies rgw exited; see {s3.log_path}"
        try:
            client.list_buckets()
        except Exception:
            return False
        return True

    _until(signed_request_answered, "RGW on the s3 host", 300)


def _pings(client: object) -> bool:
    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except Exception:
        return False


def _start_prefect(fleet: Fleet) -> None:
    first = fleet.start("ctl1", _process("ctl-first", "prefect-api"))
    wait_http(f"http://{fleet.address('ctl1')}:4200/api/health", 180, first.proc)  # it migrates
    fleet.start("ctl1", _process("ctl-first", "prefect-services"))
    second = fleet.start("ctl2", _process("ctl", "prefect-api"))
    lb_dir = fleet.host("lb").root / "data" / "lb"
    lb_dir.mkdir(parents=True, exist_ok=True)
    (lb_dir / "nginx.conf").write_text(
        lb_config([fleet.address(r) for r in REPLICAS], fleet.address("lb"), str(lb_dir))
    )
    lb = fleet.start("lb", _process("lb", "prefect-lb"))
    wait_http(f"http://{fleet.address('ctl2')}:4200/api/health", 180, second.proc)
    wait_http(f"{fleet.prefect_url}/health", 30, lb.proc)


def _bootstrap(fleet: Fleet) -> None:
    api = _process("api", "api")
    fleet.run("api1", [str(BIN_DIR / "dailies"), "bootstrap", "--deploy"], api, timeout_s=600)


def _start_apis_and_edge(fleet: Fleet) -> None:
    api = _process("api", "api")
    started = [fleet.start(host, api) for host in APIS]
    for host, service in zip(APIS, started, strict=True):
        wait_http(f"http://{fleet.address(host)}:8000/healthz", 120, service.proc)
    edge = fleet.start("edge", _process("edge", "edge"))
    wait_http(f"{fleet.edge_url}/_edge/health", 60, edge.proc)


def _start_workers(fleet: Fleet) -> None:
    for host in WORKERS:
        _start_worker_host(fleet, host)
    _wait_task_workers(fleet, len(WORKERS))
    _wait_cpu_workers(fleet, len(WORKERS))


def _start_worker_host(fleet: Fleet, host: str) -> None:
    """The worker role's processes on `host`: a task worker per Prefect replica."""
    for process in role("worker").processes:
        for replica in REPLICAS if process.per_replica else (None,):
            fleet.start(host, process, replica)


def _filtered(url: str) -> list[dict[str, Any]] | None:
    """A Prefect `…/filter` answer; None while the server is not answering yet."""
    request = urllib.request.Request(
        url, data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return list(json.loads(answer.read()))
    except OSError:
        return None


def _listed(url: str, count: int, status: str | None = None) -> bool:
    """Whether a Prefect `…/filter` answer lists `count` items (of `status`)."""
    found = _filtered(url) or []
    return sum(status is None or item.get("status") == status for item in found) >= count


def _until(done: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f}s"
        time.sleep(0.5)


def _beat_since(prefect_url: str, worker: str, since: datetime) -> bool:
    """Whether the cpu pool's worker `worker` has sent a heartbeat after `since`."""
    found = _filtered(f"{prefect_url}/work_pools/cpu/workers/filter") or []
    beats = [w["last_heartbeat_time"] for w in found if w["name"] == worker]
    return any(b and datetime.fromisoformat(b) > since for b in beats)


def _wait_task_workers(fleet: Fleet, per_replica: int) -> None:
    """Until each replica lists a subscription from every worker host's task worker."""
    for replica in REPLICAS:
        url = f"http://{fleet.address(replica)}:4200/api/task_workers/filter"
        _until(partial(_listed, url, per_replica), f"task workers subscribed to {replica}")


def _wait_cpu_workers(fleet: Fleet, count: int) -> None:
    url = f"{fleet.prefect_url}/work_pools/cpu/workers/filter"
    _until(partial(_listed, url, count, "ONLINE"), f"{count} cpu workers online")
