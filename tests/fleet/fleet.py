"""The production shape of ops/fleet.py, brought up on hosts of tests/fleet/hosts.py: the
same commands and settings the README's "Scaling out" prints, nothing more.

db (Postgres cluster of its own + Redis), s3, ctl1 (the Prefect API replica that migrates,
and Prefect's services), ctl2 (a second replica), lb (nginx before both), api1 and api2
(the dailies API), edge (nginx before the API replicas and the previews bucket), w1 and w2
(a cpu-pool worker and one first-rendition task worker per Prefect replica each)."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

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
        s3 = fleet.start("s3", _process("s3", "s3"))
        wait_http(f"http://{addresses['s3']}:5000/moto-api/data.json", 60, s3.proc)
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
    worker_role = role("worker")
    for host in WORKERS:
        for process in worker_role.processes:
            if process.per_replica:
                for replica in REPLICAS:
                    fleet.start(host, process, replica)
            else:
                fleet.start(host, process)
    _wait_task_workers(fleet, len(WORKERS))
    _wait_cpu_workers(fleet, len(WORKERS))


def _listed(url: str, count: int, status: str | None = None) -> bool:
    """Whether a Prefect `…/filter` answer lists `count` items (of `status`); not while the
    server is not answering yet."""
    request = urllib.request.Request(
        url, data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            found = json.loads(answer.read())
    except OSError:
        return False
    return sum(status is None or item.get("status") == status for item in found) >= count


def _until(done: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f}s"
        time.sleep(0.5)


def _wait_task_workers(fleet: Fleet, per_replica: int) -> None:
    """Until each replica lists a subscription from every worker host's task worker."""
    for replica in REPLICAS:
        url = f"http://{fleet.address(replica)}:4200/api/task_workers/filter"
        _until(partial(_listed, url, per_replica), f"task workers subscribed to {replica}")


def _wait_cpu_workers(fleet: Fleet, count: int) -> None:
    url = f"{fleet.prefect_url}/work_pools/cpu/workers/filter"
    _until(partial(_listed, url, count, "ONLINE"), f"{count} cpu workers online")
