"""Fault-injection fixtures: a work pool and worker of the suite's own (so that killing
them never touches the session's cpu worker), the API under uvicorn with short stall and
recheck windows, a scratch folder for the run processes, and the table of results."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.settings import MiB
from ops.processes import Service
from tests.faults.flaky_s3 import FlakyS3, Hold
from tests.faults.procs import alive, flow_run_process, sigkill, wait_gone
from tests.faults.report import FaultTable

FAULTS_POOL = "faults"
PROMOTE = ("promote-master", "faults-promote", "promote-master/promote-master")
PREVIEW = ("build-preview", "faults-preview", "build-preview/preview-cpu")
# tests/conftest.py put DAILIES_HOME under its run folder (importing it again would
# re-run it: new ports, new database).
RUN_DIR = Path(os.environ["DAILIES_HOME"]).parent
SCRATCH = RUN_DIR / "faults-scratch"

# What the run processes of this suite see: scratch of their own, short lock leases (a
# killed holder's lock lapses in seconds), the multipart copy path from 16 MiB up.
RUN_ENV = {
    "DAILIES_SCRATCH_DIR": str(SCRATCH),
    "DAILIES_LOCK_LEASE_S": "3",
    "DAILIES_X264_PRESET": "superfast",
    "DAILIES_MULTIPART_COPY_THRESHOLD_BYTES": str(16 * MiB),
    "DAILIES_MULTIPART_COPY_PART_BYTES": str(16 * MiB),
    "DAILIES_COPY_CONCURRENCY": "1",
}

# The API's windows in this suite, short enough for a test (fault_api; test_api_kill.py runs
# the API in a process of its own with the same): a started run whose row and state have not
# moved for 150 s is dead (the last resort, tests/api/test_liveness_sweep.py; here a lost host
# is seen sooner by its heartbeats), as is one whose worker stopped heartbeating for 15 s and
# whose own process for 45 s (a beat every 30 s, Prefect's minimum, persisted within
# seconds); the liveness sweep runs every second and checks rows quiet for 3 s; failures
# back off 1 s.
API_SETTINGS: dict[str, Any] = {
    "preview_cpu_deployment": f"{PREVIEW[0]}/{PREVIEW[1]}",
    "promote_deployment": f"{PROMOTE[0]}/{PROMOTE[1]}",
    "gpu_work_pool": "faults-no-gpu",  # never the session's (fake) gpu workers
    "preview_first_rendition": False,  # the deployment path; the first rendition: tests/e2e
    "preview_stall_s": 150,
    "preview_recheck_after_s": 3,
    "preview_sweep_interval_s": 1,
    "preview_worker_lost_s": 15,
    "preview_run_silent_s": 45,
    "preview_retry_base_s": 1,
    "preview_retry_max_s": 2,
    "preview_single_flight_ttl_s": 5,
    "preview_retry_after_s": 1,
}


@pytest.fixture(scope="session")
def fault_table() -> Iterator[FaultTable]:
    table = FaultTable()
    yield table
    if os.environ.get("DAILIES_WRITE_FAULT_TABLE") == "1" and table.rows:
        table.write(Path(__file__).resolve().parents[2] / "bench" / "RESULTS.md")


async def _copy_deployments() -> None:
    """The shipped deployments (prefect.yaml), on a pool of the suite's own."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    async with get_client() as client:
        cpu = await client.read_work_pool("cpu")
        with contextlib.suppress(ObjectAlreadyExists):
            await client.create_work_pool(
                WorkPoolCreate(
                    name=FAULTS_POOL, type=cpu.type, base_job_template=cpu.base_job_template
                )
            )
        for _flow_name, name, shipped in (PROMOTE, PREVIEW):
            source = await client.read_deployment_by_name(shipped)
            await client.create_deployment(
                flow_id=source.flow_id,
                name=name,
                work_pool_name=FAULTS_POOL,
                entrypoint=source.entrypoint,
                path=source.path,
                pull_steps=source.pull_steps,
                parameters=source.parameters,
                parameter_openapi_schema=source.parameter_openapi_schema,
                job_variables=source.job_variables,
                tags=[*source.tags, "faults"],
            )


@pytest.fixture(scope="session")
def flaky_store(stack: Any) -> Iterator[FlakyS3]:
    """The proxy every run process of this suite reaches S3 through."""
    proxy = FlakyS3(stack.s3_endpoint_url)
    yield proxy
    proxy.close()


@pytest.fixture
def store(flaky_store: FlakyS3) -> Iterator[FlakyS3]:
    """The proxy, with no faults planned when a test starts or after it ends."""
    flaky_store.reset()
    yield flaky_store
    flaky_store.reset()


class FaultWorker:
    """A real `dailies worker` (Prefect's process worker) on the faults pool. Tests kill
    it; `ensure` brings it back, as a supervisor (systemd, Kubernetes) would."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self.starts = 0
        self.service: Service | None = None
        self.ensure()

    @property
    def pid(self) -> int:
        assert self.service is not None
        return self.service.proc.pid

    @property
    def name(self) -> str:
        """Its name in Prefect: each start has its own, as `dailies up` names them."""
        return f"faults-worker-{self.starts}"

    def ensure(self) -> None:
        if self.service is not None:
            proc = self.service.proc
            if proc.poll() is None and alive(proc.pid):
                return
            # Killed, it may not be reaped yet: a multi-threaded process's leader is a
            # zombie while its other threads still exit, and waitpid (poll) reports it
            # running until they have; a worker judged alive then is never restarted.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
        self.starts += 1
        log_path = RUN_DIR / "logs" / f"faults-worker-{self.starts}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **RUN_ENV,
            "AWS_ENDPOINT_URL_S3": self.store_url,
            "PREFECT_WORKER_QUERY_SECONDS": "0.5",
            "PREFECT_WORKER_PREFETCH_SECONDS": "2",
            "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
        }
        dailies = str(Path(sys.executable).parent / "dailies")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [dailies, "worker", "--pool", FAULTS_POOL, "--name", self.name],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        # Stopped as Ctrl-C stops it, runs and all (SIGTERM would leave them running).
        self.service = Service("faults-worker", "", proc, log_path, stop_signal=signal.SIGINT)

    def kill_flow_run_at(self, run_id: str, hold: Hold, timeout_s: float = 120) -> float:
        """SIGKILL the run's process once `hold` has stopped it mid-step; return when."""
        assert hold.wait(timeout_s), "the run never reached the step to kill it in"
        pid = flow_run_process(self.pid, run_id)
        assert pid is not None
        sigkill(pid)
        killed_at = time.monotonic()
        hold.release()
        assert wait_gone([pid], 15) == []
        return killed_at

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


@pytest.fixture(scope="session")
def fault_worker(deployed: Any, flaky_store: FlakyS3) -> Iterator[FaultWorker]:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    asyncio.run(_copy_deployments())
    worker = FaultWorker(flaky_store.url)
    yield worker
    worker.stop()


@pytest.fixture
def worker(fault_worker: FaultWorker) -> FaultWorker:
    """The suite's worker, alive at the start of each test."""
    fault_worker.ensure()
    return fault_worker


@pytest.fixture(scope="session")
def fault_api(stack: Any, fault_worker: FaultWorker) -> Iterator[httpx.Client]:
    """The API, as deployed, with API_SETTINGS's short windows."""
    from api.app import create_app
    from dailies.clients import session_scope
    from dailies.db import api_keys
    from tests.serving import serve

    settings = stack.model_copy(update=API_SETTINGS)
    with session_scope(stack) as session:
        token = api_keys.create_key(session, "editor", "faults")[1]
    with (
        serve(create_app(settings), access_log=False) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client,
    ):
        yield client
