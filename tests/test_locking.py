"""Lease locks on real Redis and on lock files: kept while the holder lives, lapsed when it
dies, across processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from dailies.locking import LeasedFileLockManager, LeasedRedisLockManager, lock_manager

HOLDER_SCRIPT = """
import sys, time
from pathlib import Path
from dailies.locking import LeasedFileLockManager, LeasedRedisLockManager
kind, where, key = sys.argv[1:4]
manager = (LeasedFileLockManager(Path(where), lease_s=1) if kind == "file"
           else LeasedRedisLockManager(where, lease_s=1))
assert manager.acquire_lock(key, holder="process-a")
print("held", flush=True)
time.sleep(600)
"""


# Failure timeout for the lease of a killed holder to lapse (its TTL is 1 s).
LAPSE_TIMEOUT_S = 60.0


def _manager(kind: str, where: str) -> Any:
    if kind == "file":
        return LeasedFileLockManager(Path(where), lease_s=1)
    return LeasedRedisLockManager(where, lease_s=1)


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_a_lease_spans_processes_and_lapses_when_its_holder_is_sigkilled(
    kind: str, redis_db: str, tmp_path: Path
) -> None:
    """Two processes, one sha: the second waits while the first lives (past several TTLs),
    and gets the lock once the first is SIGKILLed: after the lease lapses, well before a
    long acquire timeout (a lease that never lapsed would run it out)."""
    where = str(tmp_path / "locks") if kind == "file" else redis_db
    key = f"test-{uuid.uuid4()}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, kind, where, key], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        other = _manager(kind, where)
        started = time.monotonic()
        assert not other.acquire_lock(key, holder="process-b", acquire_timeout=3.5)
        # refused for 3.5 TTLs, the lease was renewed (a lower bound: load cannot fail it;
        # redis-py gives up one retry interval early)
        assert time.monotonic() - started >= 3
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed = time.monotonic()
        assert other.acquire_lock(key, holder="process-b", acquire_timeout=LAPSE_TIMEOUT_S)
        lapsed_after = time.monotonic() - killed
        assert lapsed_after < LAPSE_TIMEOUT_S / 2, lapsed_after  # the lease lapsed; no timeout
        other.release_lock(key, holder="process-b")
        assert not other.is_locked(key)
    finally:
        holder.kill()
        holder.wait()


def test_without_redis_the_cache_uses_lock_files_under_dailies_home(tmp_path: Path) -> None:
    from dailies.settings import Settings

    manager = lock_manager(Settings(redis_url=None, home=tmp_path))
    assert isinstance(manager, LeasedFileLockManager)
    assert manager.lock_files_directory == (tmp_path / "locks").resolve()


def test_a_redis_lease_forgotten_by_a_restart_is_taken_back_and_a_lost_one_released_quietly(
    redis_db: str,
) -> None:
    """A Redis restart (here: the lease's key deleted) loses no build lock while its holder
    lives: the next heartbeat takes it back. A lease someone else took in the gap is theirs:
    releasing ours then neither raises nor frees theirs."""
    import redis

    client = redis.Redis.from_url(redis_db)
    # a 3 s lease, renewed every second: the gaps below are microseconds long
    holder, other = LeasedRedisLockManager(redis_db, lease_s=3), _manager("redis", redis_db)
    key = f"test-{uuid.uuid4()}"
    assert holder.acquire_lock(key, holder="process-a")
    name = holder._lock_name_for_key(key)
    client.delete(name)  # what a restart without persistence does
    deadline = time.monotonic() + LAPSE_TIMEOUT_S  # a heartbeat comes every second
    while client.get(name) != b"process-a":
        assert time.monotonic() < deadline, "the holder never took its lease back"
        time.sleep(0.05)
    assert not other.acquire_lock(key, holder="process-b", acquire_timeout=1.5)

    client.delete(name)
    assert other.acquire_lock(key, holder="process-b", acquire_timeout=1)  # won the gap
    holder.release_lock(key, holder="process-a")  # lost: a no-op, not an error
    assert client.get(name) == b"process-b"
    other.release_lock(key, holder="process-b")
    assert not other.is_locked(key)
