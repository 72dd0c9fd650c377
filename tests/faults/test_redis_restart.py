"""Redis restarted while a preview build holds its lock and a second run of the same master
waits on it. The restarted Redis has forgotten the lock; the holder takes its lease back or
the previews row fences the build (db/previews.py): either way ffmpeg encodes the ladder
once, and the preview ends ready.

The runs use a Redis of their own (a redis-server on a free port), so the session's shared
Redis is never touched."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import redis
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from dailies.runs import sha_tag
from ops.processes import free_port
from tests.faults.conftest import PREVIEW, RUN_DIR, FaultWorker
from tests.faults.flaky_s3 import FlakyS3
from tests.faults.outcome import wait_for
from tests.faults.previewing import assert_recovered, ladder_segment_put, promoted_clip
from tests.faults.procs import sigkill, wait_gone
from tests.faults.report import FaultTable
from tests.faults.runs import read_run, wait_final

pytestmark = [pytest.mark.slow, pytest.mark.faults]


class PrivateRedis:
    """A redis-server of this test's own, without persistence: a restart forgets every key,
    as a Redis without AOF (or a failover to an empty replica) does."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is missing: apt-get install -y redis-server")
        self.binary, self.port = binary, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis.from_url(self.url, socket_timeout=2)
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        log = open(RUN_DIR / "logs" / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for("redis-server answers", self._pings, 15)

    def _pings(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        sigkill(self.proc.pid)
        self.proc.wait(15)
        assert wait_gone([self.proc.pid], 15) == []

    def restart(self) -> float:
        """SIGKILL (no shutdown save) and start again on the same port; return when it was
        down."""
        self.kill()
        down_at = time.monotonic()
        self.start()
        return down_at

    def polling_clients(self) -> int:
        """Connections whose last command, this very second, was SET: a lock waiter polls
        SET NX every 0.1 s, a lease holder renews with a script every second."""
        try:
            clients = self.client.client_list()
        except redis.RedisError:
            return 0
        return sum(1 for c in clients if c.get("cmd") == "set" and int(c.get("idle", 9)) == 0)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    yield server
    server.kill()


def _launch(sha: str, redis_url: str) -> str:
    """A run of the faults preview deployment whose process uses `redis_url` for its locks
    (as ops start one from the UI: no API, no single-flight claim)."""

    async def go() -> str:
        async with get_client() as client:
            deployment = await client.read_deployment_by_name(f"{PREVIEW[0]}/{PREVIEW[1]}")
            run = await client.create_flow_run_from_deployment(
                deployment.id,
                parameters={"sha256": sha, "encoder": "cpu"},
                job_variables={"env": {"DAILIES_REDIS_URL": redis_url}},
                tags=["preview", sha_tag(sha)],
            )
            return str(run.id)

    return asyncio.run(go())


def _ladder_encodes(run_ids: list[str]) -> dict[str, int]:
    """How many encode_ladder task runs each flow run has."""

    async def read() -> dict[str, int]:
        async with get_client() as client:
            ids = FlowRunFilterId(any_=[UUID(r) for r in run_ids])
            tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=ids))
        counts = dict.fromkeys(run_ids, 0)
        for task in tasks:
            if task.task_key.rsplit("-", 1)[0] == "encode_ladder":
                counts[str(task.flow_run_id)] += 1
        return counts

    return asyncio.run(read())


def test_redis_restarted_mid_lock_builds_the_preview_once(
    worker: FaultWorker, store: FlakyS3, private_redis: PrivateRedis, stack: Any,
    tmp_path: Path, fault_table: FaultTable,
) -> None:  # fmt: skip
    sha = promoted_clip(stack, tmp_path, "redis.mp4", seconds=6)

    ladder_segment = ladder_segment_put(sha)

    # A brake: the holder stops at its first ladder segment until the restart is over, so
    # it is still building whatever the waiter does meanwhile.
    hold = store.hold(ladder_segment)
    runs = [_launch(sha, private_redis.url), _launch(sha, private_redis.url)]
    # one run holds the lock (it is building), the other polls for it
    wait_for("a second run polls the lock", private_redis.polling_clients, 150, 0.1)

    down_at = private_redis.restart()

    def settled() -> bool:
        """The waiter stood down (final), or is waiting again on a lease someone holds."""
        final = [r for r in runs if (s := read_run(r).state) is not None and s.is_final()]
        return bool(final) or (
            private_redis.client.dbsize() > 0 and private_redis.polling_clients() > 0
        )

    wait_for("the runs react to the restart", settled, 60, 0.1)
    hold.release()
    ended = [wait_final(r, 180) for r in runs]
    recovery_s = time.monotonic() - down_at

    encodes = _ladder_encodes(runs)
    assert sorted(encodes.values()) == [0, 1], encodes  # the ladder encoded once
    builder = next(r for r, n in encodes.items() if n == 1)
    states = {str(r.id): r.state for r in ended}
    assert states[builder] is not None and states[builder].is_completed(), states[builder]
    other = next(s for r, s in states.items() if r != builder)
    assert other is not None
    if other.is_completed():
        outcome = "ready; the 2nd run waited and read the 1st's result"
    else:  # the lock was lost to it: the row fenced it, with a reason
        assert other.type.value == "FAILED" and "stands down" in str(other.message), other
        outcome = "ready; the 2nd run took the lost lock, the row fenced it"
    left = assert_recovered(stack, sha)
    fault_table.add(
        "5 redis restart", "Redis SIGKILLed and restarted empty mid-build, a 2nd run waiting",
        recovery_s, outcome, left,
    )  # fmt: skip
