"""Session-wide real services: moto's S3 server over HTTP, a fresh Postgres database,
Redis (a dedicated db number, flushed) and a Prefect server.

The environment is set here, at import, before anything imports prefect or reads settings,
so that every thread and subprocess (workers, the CLI) sees the same stack.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ops.environment import apply_environment, throwaway_environment
from ops.processes import (
    Service,
    drain_prefect_clients,
    free_port,
    start_moto,
    start_prefect_server,
)
from tests.isolation import PG_ADMIN_DEFAULT

RUN_DIR = Path(tempfile.mkdtemp(prefix="dailies-tests-"))
PG_ADMIN_URL = os.environ.get("DAILIES_TEST_PG_ADMIN", PG_ADMIN_DEFAULT)
PG_DB = f"dailies_test_{uuid.uuid4().hex[:10]}"
# Parallel test sessions on one machine pick different db numbers (DAILIES_TEST_REDIS_DB).
# Under pytest-xdist each worker process is a session of its own: the next db number.
_XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_REDIS_DB = (int(os.environ.get("DAILIES_TEST_REDIS_DB", "13")) + _XDIST_INDEX) % 16
REDIS_URL = f"redis://127.0.0.1:6379/{_REDIS_DB}"
MOTO_PORT = free_port()
PREFECT_PORT = free_port()

apply_environment(
    throwaway_environment(
        RUN_DIR,
        MOTO_PORT,
        PREFECT_PORT,
        "testing",
        database_url="postgresql+psycopg://postgres@127.0.0.1:5432/" + PG_DB,
        redis_url=REDIS_URL,
        extra={
            "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
            # The liveness sweep judges every quiet row in the database, and a session's tests
            # share one: rows a test left behind (fake run ids, masters that are only rows)
            # would be relaunched into every later test's worker. It runs where a test asks for
            # it (api/test_liveness_sweep.py, the fault suite).
            "DAILIES_PREVIEW_SWEEP_INTERVAL_S": "0",
            # Runs are named where a test asks for it (ops/test_run_names.py).
            "DAILIES_RUN_NAMING_INTERVAL_S": "0",
        },
    ),
    unset=("AWS_PROFILE", "AWS_SESSION_TOKEN", "DAILIES_STAGING_BUCKET", "DAILIES_MASTERS_BUCKET"),
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with a slow test first, each module whole and in the order pytest-randomly
    gave it. `make test` hands whole modules to its two pytest-xdist workers (`--dist
    loadscope`: a module's fixtures, an edge or a whole `dailies up`, start once), as they
    free up; a minute-long module drawn last would keep one worker busy while the other
    idles, drawn first the short ones fill in around it."""
    slow = {item.module for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module not in slow)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Service]:
    service = start_moto(MOTO_PORT, RUN_DIR / "logs")
    yield service
    service.stop()


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[str]:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    yield os.environ["DAILIES_DATABASE_URL"]
    from dailies.clients import reset_clients

    reset_clients()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_db() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[Service]:
    """On a Postgres database of its own, as a production Prefect server runs: SQLite takes
    one writer at a time, and a test's twenty concurrent flows queued behind its lock (the
    client backing off for seconds between tries)."""
    import psycopg

    database = f"prefect_{PG_DB}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    service = start_prefect_server(
        PREFECT_PORT, RUN_DIR / "prefect-server", RUN_DIR / "logs",
        database_url=PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql:", "postgresql+asyncpg:")
        + f"/{database}",
    )  # fmt: skip
    yield service
    drain_prefect_clients()
    service.stop()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _unclaimed_runs_cancelled(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that had the Prefect server: its deployment runs that no worker took
    are cancelled (tests/prefect_runs.py says why), so leftovers never queue in front of a
    later test's run or burn the box's two cores."""
    if "prefect_server" not in request.fixturenames:
        yield
        return
    from datetime import UTC, datetime

    from tests.prefect_runs import cancel_unclaimed

    since = datetime.now(UTC)
    yield
    cancel_unclaimed(since)


@pytest.fixture(scope="session")
def stack(s3_server: Service, postgres_db: str, redis_db: str, prefect_server: Service):  # type: ignore[no-untyped-def]
    """Everything up, buckets made and migrations run: what `dailies bootstrap` does."""
    from dailies.clients import reset_clients
    from dailies.settings import get_settings
    from ops.bootstrap import bootstrap

    reset_clients()
    bootstrap(get_settings())
    return get_settings()


@contextmanager
def _on_store(env: dict[str, str]) -> Iterator[None]:
    """This process on another S3 (endpoint and keys) for a while; settings and clients are
    made afresh on the way in and out. Subprocess workers started earlier stay on moto."""
    from dailies.clients import reset_clients

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    reset_clients()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_clients()


@pytest.fixture(scope="session")
def rgw_server(stack):  # type: ignore[no-untyped-def]
    """A throw-away Ceph RGW (ops/rgw.py) with the buckets bootstrap makes, started
    once, only when a test runs on it. Missing packages fail with the install command."""
    from dailies.settings import get_settings
    from ops.bootstrap import create_buckets
    from ops.rgw import start_rgw

    gateway = start_rgw(RUN_DIR / "rgw")
    try:
        with _on_store(gateway.env):
            create_buckets(get_settings())
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def store(request: pytest.FixtureRequest, stack) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The S3 a test runs on: moto, unless parametrised with tests/stores.py's `both_stores`."""
    name = getattr(request, "param", "moto")
    if name == "moto":
        yield name
        return
    gateway = request.getfixturevalue("rgw_server")
    with _on_store(gateway.env):
        yield name


@pytest.fixture
def settings(stack, store):  # type: ignore[no-untyped-def]
    from dailies.settings import get_settings

    return stack if store == "moto" else get_settings()


@pytest.fixture
def s3(settings):  # type: ignore[no-untyped-def]
    from dailies.clients import s3_client

    return s3_client(settings)


@pytest.fixture
def db_session(stack):  # type: ignore[no-untyped-def]
    from dailies.clients import session_scope

    with session_scope(stack) as session:
        yield session


@pytest.fixture(scope="session")
def deployed(stack):  # type: ignore[no-untyped-def]
    """Work pools, result storage block and every deployment in prefect.yaml, as
    `dailies bootstrap` makes them against the test Prefect server."""
    from ops.bootstrap import bootstrap

    return bootstrap(stack, deploy=True)


@pytest.fixture(scope="session")
def cpu_worker(deployed):  # type: ignore[no-untyped-def]
    """A real `dailies worker` (Prefect's process worker) for the cpu pool, polling every
    second."""
    import signal
    import subprocess
    import sys

    log_path = RUN_DIR / "logs" / "cpu-worker.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed after the worker stops
    env = {
        **os.environ,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
        # fastest x264 preset that keeps High profile: tests check the ladder, not quality
        "DAILIES_X264_PRESET": "superfast",
    }
    dailies = str(Path(sys.executable).parent / "dailies")
    proc = subprocess.Popen(
        [dailies, "worker", "--pool", "cpu", "--name", "test-cpu-worker"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    # Ctrl-C's stop, which ends the runs it started (SIGTERM would leave them running).
    worker = Service("cpu-worker", "", proc, log_path, stop_signal=signal.SIGINT)
    yield worker
    worker.stop()
    log.close()


class TaskWorker:
    """`prefect task serve` for the first rendition (tasks/first_rendition.py), as `dailies up`
    runs it. A test may kill it; `restart` brings a fresh one for the tests after it."""

    def __init__(self) -> None:
        self.starts = 0
        self.service = self._start()

    def _start(self, **env: str) -> Service:
        from ops.processes import start_task_worker

        self.starts += 1
        # A log of its own per start: readiness is read from it ("Subscribing to runs").
        return start_task_worker(
            {**os.environ, **env}, RUN_DIR / "logs" / f"task-worker-{self.starts}"
        )

    def kill(self) -> None:
        """SIGKILL its whole process group: no cleanup, as an OOM kill or a lost node."""
        import signal

        os.killpg(self.service.proc.pid, signal.SIGKILL)
        self.service.proc.wait()

    def restart(self, **env: str) -> None:
        """A fresh worker, with `env` on top of the session's (a test's own S3 endpoint)."""
        self.service.stop()
        self.service = self._start(**env)


@pytest.fixture(scope="session")
def task_worker(stack) -> Iterator[TaskWorker]:  # type: ignore[no-untyped-def]
    worker = TaskWorker()
    yield worker
    worker.service.stop()


@pytest.fixture(scope="session")
def previews_url(stack) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Base URL of the previews bucket for ffprobe and friends. The bucket refuses anonymous
    reads (the edge signs its own), so a small local reader signs for the tests."""
    from dailies.clients import s3_client
    from tests.serving import bucket_reader

    with bucket_reader(s3_client(stack), stack.previews_bucket) as url:
        yield url
