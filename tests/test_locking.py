"""Lease locks on real Redis: kept while the holder lives, lapsed when it dies."""

from __future__ import annotations

import time
import uuid

from dailies.locking import LeasedRedisLockManager


def test_living_holder_keeps_its_lease_past_the_ttl(redis_db: str) -> None:
    manager = LeasedRedisLockManager(redis_db, lease_s=1)
    key = f"test-{uuid.uuid4()}"
    assert manager.acquire_lock(key, holder="worker-a")
    time.sleep(2.5)
    assert manager.is_locked(key)
    assert not manager.acquire_lock(key, holder="worker-b", acquire_timeout=0.2)
    manager.release_lock(key, holder="worker-a")
    assert not manager.is_locked(key)


def test_dead_holders_lease_lapses_within_one_ttl(redis_db: str) -> None:
    manager = LeasedRedisLockManager(redis_db, lease_s=1)
    key = f"test-{uuid.uuid4()}"
    assert manager.acquire_lock(key, holder="worker-a")
    manager._stop_heartbeat(key)  # what a SIGKILL does to the renewing thread
    other = LeasedRedisLockManager(redis_db, lease_s=1)
    assert other.acquire_lock(key, holder="worker-b", acquire_timeout=3)
    other.release_lock(key, holder="worker-b")
