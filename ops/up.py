"""`dailies up`: the whole stack on one machine, on embedded defaults.

moto's S3 server and a Prefect server (SQLite) unless AWS_ENDPOINT_URL_S3 / PREFECT_API_URL
name others, a SQLite catalog database unless DAILIES_DATABASE_URL names one, then
bootstrap (buckets, migrations, pools, deployments), the API, the nginx edge and workers.
`dailies demo` starts the same stack through `start_stack` when none is running.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops import orphans
from ops.environment import apply_environment, embedded_environment
from ops.errors import StackError
from ops.prerequisites import Echo, ensure_player_assets, pick_port, require_tools
from ops.processes import (
    Service,
    drain_prefect_clients,
    start_api,
    start_task_worker,
    start_worker,
    wait_for_workers,
)

DEFAULT_PORTS = {"edge": 8080, "api": 8000, "prefect": 4200, "s3": 0}
STATE_FILE = "stack.json"
PREVIOUS_LOGS = "logs.previous"  # in DAILIES_HOME: the last stack's logs, kept one restart
# A service that dies more often than this is broken, not unlucky: stop rather than loop.
MAX_RESTARTS, RESTART_WINDOW_S = 5, 300.0
# Said when moto starts: it checks no signature, so on a stack others reach, anyone could read
# masters with a forged URL or write previews the edge then serves (issue 25). Loopback only,
# but a stack left running for a team is what this warns.
MOTO_WARNING = (
    "note: S3 is moto, which accepts any signature (forged or expired URLs, unsigned writes): "
    "for trying things alone.",
    "      For a stack others use, start it with `dailies up --store rgw`.",
)


@dataclass
class Stack:
    home: Path
    urls: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    # How to start a service again (workers, the task worker): the ones `dailies up` restarts.
    restarters: dict[str, Callable[[], Service]] = field(default_factory=dict)
    restarts: dict[str, list[float]] = field(default_factory=dict)

    @property
    def state_path(self) -> Path:
        return self.home / STATE_FILE

    def stop(self) -> None:
        """Children in reverse start order: workers first, the Prefect server last."""
        # A second Ctrl-C (a terminal signals `uv run` and us; uv forwards it again) must not
        # abort the cleanup half-way and leave servers running: ignore it while stopping.
        with _signals_ignored():
            self._stop_children()

    def _stop_children(self) -> None:
        if any(s.name == "prefect" for s in self.services):
            # Flush our queued logs/events while the server is there to take them.
            with contextlib.suppress(Exception):
                drain_prefect_clients()
        # Flow runs live in sessions of their own: note them before their worker goes.
        leftovers = orphans.descendants(s.proc.pid for s in self.services)
        for service in reversed(self.services):
            with contextlib.suppress(ProcessLookupError):
                service.stop()
        self.services.clear()
        orphans.end(leftovers | orphans.orphans(keep=()))
        self.state_path.unlink(missing_ok=True)

    def dead(self) -> list[Service]:
        return [s for s in self.services if s.proc.poll() is not None]

    def supervise(self, echo: Echo) -> list[Service]:
        """Restart dead workers and the task worker (a line each); return the dead services
        that cannot be restarted (or died too often), which end the stack."""
        fatal = []
        for service in self.dead():
            restart = self.restarters.get(service.name)
            now = time.monotonic()
            recent = [t for t in self.restarts.get(service.name, []) if now - t < RESTART_WINDOW_S]
            if restart is None or len(recent) >= MAX_RESTARTS:
                fatal.append(service)
                continue
            echo(
                f"{service.name} exited with {service.proc.returncode}; restarting it "
                f"(log: {service.log_path})"
            )
            self.restarts[service.name] = [*recent, now]
            try:
                replacement = restart()
            except Exception as exc:
                echo(f"{service.name} could not be restarted: {exc}")
                fatal.append(service)
                continue
            self.services[self.services.index(service)] = replacement
            self.write_state()
        orphans.reap(exclude=[s.proc.pid for s in self.services])
        return fatal

    def write_state(self) -> None:
        # 0600: the environment may carry a database URL with a password in it.
        pids = {s.name: s.proc.pid for s in self.services}
        state = {"pid": os.getpid(), "urls": self.urls, "env": self.env, "services": pids}
        body = json.dumps(state, indent=2)
        # Written aside then renamed: a command reading it meanwhile sees the old or the new
        # state, never an empty file.
        partial = self.state_path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(body)
        os.replace(partial, self.state_path)


def running_stack(home: Path) -> dict[str, Any] | None:
    """The state a live `dailies up` (or `demo --keep`) in this home wrote, if it still runs."""
    try:
        state = json.loads((home / STATE_FILE).read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return dict(state)


def adopt(state: dict[str, Any]) -> dict[str, str]:
    """Point this process at a running stack: its environment (database, S3, Prefect API),
    with settings and clients made afresh; returns its URLs."""
    from dailies.clients import reset_clients

    os.environ.update({str(k): str(v) for k, v in dict(state["env"]).items()})
    reset_clients()
    return {str(k): str(v) for k, v in dict(state["urls"]).items()}


def start_stack(
    home: Path,
    ports: dict[str, int | None] | None = None,
    gpu: bool | None = None,
    echo: Echo = print,
    store: str = "moto",
) -> Stack:
    """Start everything and return once a preview request would be served end to end.
    Sets this process's environment to the stack's, as its children see it."""
    requested = {**dict.fromkeys(DEFAULT_PORTS), **(ports or {})}
    if running_stack(home) is not None:
        raise StackError(f"a stack is already running for {home} (see {home / STATE_FILE})")
    require_tools(os.environ.get("DAILIES_FFMPEG_BIN", "ffmpeg"),
                  os.environ.get("DAILIES_FFPROBE_BIN", "ffprobe"))  # fmt: skip
    ensure_player_assets(echo)
    chosen = {name: pick_port(requested[name], DEFAULT_PORTS[name]) for name in DEFAULT_PORTS}
    env, starts = embedded_environment(home, chosen, dict(os.environ), store)
    stack_dir = home / "stack"
    if starts["s3"]:
        # moto keeps objects in memory: the catalog and Prefect's records of the last run
        # would point at objects that no longer exist, so they start afresh with it. The
        # last run's logs are kept aside (a crash is read after the restart).
        keep_last_logs(stack_dir / "logs", home / PREVIOUS_LOGS)
        shutil.rmtree(stack_dir, ignore_errors=True)
    logs = stack_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sweep_scratch(Path(env["DAILIES_SCRATCH_DIR"]), echo)
    apply_environment(env)
    orphans.become_subreaper()
    from dailies.clients import reset_clients
    from dailies.settings import get_settings

    get_settings.cache_clear()
    reset_clients()
    # The effective database too, so `dailies demo` in another shell finds the same one.
    stack = Stack(
        home=home, env={**env, "DAILIES_DATABASE_URL": os.environ["DAILIES_DATABASE_URL"]}
    )
    try:
        _start_services(stack, chosen, starts, stack_dir, gpu, echo, store)
    except BaseException:
        stack.stop()
        raise
    stack.write_state()
    return stack


def _start_services(
    stack: Stack,
    ports: dict[str, int],
    starts: dict[str, bool],
    stack_dir: Path,
    gpu: bool | None,
    echo: Echo,
    store: str = "moto",
) -> None:
    from dailies.media.encoders import nvenc_works
    from dailies.settings import get_settings
    from ops.bootstrap import bootstrap
    from ops.edge import start_edge
    from ops.processes import start_moto, start_prefect_server

    logs = stack_dir / "logs"
    echo(f"starting S3 ({store}) and the Prefect server…")
    with ThreadPoolExecutor(2) as pool:
        futures: list[Future[Service] | Future[list[Service]]] = []
        if starts["s3"] and store == "rgw":
            futures.append(pool.submit(_start_rgw, ports["s3"], stack_dir / "rgw"))
        elif starts["s3"]:
            for line in MOTO_WARNING:
                echo(line)
            futures.append(pool.submit(start_moto, ports["s3"], logs))
        if starts["prefect"]:
            prefect_home = stack_dir / "prefect-server"
            futures.append(pool.submit(start_prefect_server, ports["prefect"], prefect_home, logs))
        errors = []
        for future in futures:  # keep every one that started, so that stop() ends it
            try:
                started = future.result()
                stack.services.extend(started if isinstance(started, list) else [started])
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
    settings = get_settings()
    echo("bootstrapping (buckets, migrations, work pools, deployments)…")
    report = bootstrap(settings, deploy=True)
    automations = report.get("automations")
    for name, outcome in (automations if isinstance(automations, dict) else {}).items():
        if str(outcome).startswith("skipped"):
            echo(f"automation {name} {outcome}: create it in the Prefect UI (Blocks), then run "
                 "`uv run dailies bootstrap`")  # fmt: skip
    pools = ["cpu"]
    if gpu or (gpu is None and nvenc_works(settings.ffmpeg_bin)):
        pools.append("gpu")
    if starts["prefect"]:
        # A pool with no worker here is paused, saying why (the API then routes previews to
        # the cpu pool), rather than shown red with its deployment "Not Ready". Only on the
        # stack's own Prefect server: a shared one's gpu pool has GPU hosts elsewhere.
        from prefect.utilities.asyncutils import run_coro_as_sync

        from ops.deploy import set_pool_paused

        why = (
            "no GPU worker on this stack (no NVENC found, or --no-gpu); start one with "
            "`dailies worker --pool gpu` on a GPU host, then resume this pool"
        )
        run_coro_as_sync(set_pool_paused(settings, "gpu", paused="gpu" not in pools, why=why))
    nice = settings.worker_nice
    workers = [start_worker(pool, {**os.environ}, logs, nice) for pool in pools]
    stack.services.extend(workers)
    for pool_name, worker in zip(pools, workers, strict=True):
        stack.restarters[worker.name] = _worker_restarter(pool_name, logs, nice)
    if settings.preview_first_rendition:
        echo("starting the task worker for first renditions…")
        stack.services.append(start_task_worker({**os.environ}, logs))
        stack.restarters["task-worker"] = _starter(start_task_worker, {**os.environ}, logs)
    echo("starting the API, the edge and workers for " + ", ".join(pools) + "…")
    api = start_api(ports["api"], {**os.environ}, logs)
    stack.services.append(api)
    edge_dir = stack_dir / "edge"
    edge = start_edge(
        settings, port=ports["edge"], api_upstream=api.url, run_dir=edge_dir, log_dir=logs
    )
    stack.services.append(edge)
    wait_for_workers(pools, workers)
    prefect_api = os.environ["PREFECT_API_URL"]
    stack.urls = {
        "edge": edge.url or f"http://127.0.0.1:{ports['edge']}",
        "api": api.url,
        "api_docs": f"{api.url}/docs",
        "prefect_api": prefect_api,
        "prefect_ui": prefect_api.removesuffix("/api"),
        "logs": str(logs.resolve()),
    }


def _start_rgw(port: int, run_dir: Path) -> list[Service]:
    """Monitor, OSD and gateway (named "s3", as moto is), with the keys the stack's
    environment already carries."""
    from ops.rgw import bluestore_bytes, start_rgw

    run_dir.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(run_dir.parent).free
    gateway = start_rgw(
        run_dir, port, store_bytes=bluestore_bytes(free),
        objectstore="bluestore", gateway_name="s3",
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    return gateway.services


def keep_last_logs(logs: Path, previous: Path) -> None:
    """Move the last run's logs to `previous`, replacing the run before it's."""
    if logs.is_dir() and any(logs.iterdir()):
        shutil.rmtree(previous, ignore_errors=True)
        shutil.move(logs, previous)


def sweep_scratch(scratch: Path, echo: Echo) -> None:
    """Remove what killed builds left (each a copy of a master): no build runs yet."""
    left = sorted(scratch.glob("dailies-*")) if scratch.is_dir() else []
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    if left:
        echo(f"swept {len(left)} scratch folder(s) left by killed builds in {scratch}")


def _starter(start: Callable[..., Service], *args: object) -> Callable[[], Service]:
    return lambda: start(*args)


def _worker_restarter(pool: str, logs: Path, nice: int) -> Callable[[], Service]:
    """Starts the pool's worker again under the next name (`dailies-cpu-worker-2`, …)."""
    later = itertools.count(2)
    return lambda: start_worker(pool, {**os.environ}, logs, nice, incarnation=next(later))


def print_urls(stack: Stack, echo: Echo) -> None:
    urls = stack.urls
    echo(f"  edge         {urls['edge']}")
    echo(f"  player       {urls['edge']}/watch/<sha256>#token=<reviewer token>")
    echo(f"  API docs     {urls['api_docs']}")
    echo(f"  Prefect UI   {urls['prefect_ui']}")
    echo(f"  logs         {urls['logs']}")
    previous = stack.home / PREVIOUS_LOGS
    if previous.is_dir():
        echo(f"  last run's   {previous}")


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_until_interrupted(stack: Stack, echo: Echo) -> None:
    """Block until Ctrl-C / SIGTERM or until a process that cannot be restarted dies
    (workers and the task worker are restarted)."""
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
    try:
        while not stop.wait(1.0):
            dead = stack.supervise(echo)
            if dead:
                names = ", ".join(f"{s.name} (log: {s.log_path})" for s in dead)
                echo(f"stopping: {names} exited")
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def up(
    home: Path,
    ports: dict[str, int | None],
    gpu: bool | None,
    echo: Echo = print,
    store: str = "moto",
) -> None:
    stack = start_stack(home, ports, gpu, echo, store)
    try:
        echo("dailies is up:")
        print_urls(stack, echo)
        # The catalog starts afresh with the stack (moto's objects live in memory), keys too.
        echo("  API keys     none yet: `uv run dailies keys create --role reviewer|editor|admin`")
        home_arg = shlex.quote(str(home))
        echo(f'  other shell  eval "$(DAILIES_HOME={home_arg} uv run dailies env)"')
        echo("Ctrl-C stops everything.")
        wait_until_interrupted(stack, echo)
    finally:
        echo("stopping…")
        stack.stop()
