"""Lock managers for Prefect's SERIALIZABLE cache transactions.

prefect-redis takes its locks with no expiry (the transaction passes no hold_timeout), so a
worker killed while holding one would block that sha forever. Ours are leases: a short TTL
that a heartbeat thread renews while the holder lives. A killed holder stops renewing and
its lock lapses within one TTL; a slow but living holder never loses it.
"""

from __future__ import annotations

import threading
from typing import Any

from prefect.locking.memory import MemoryLockManager
from prefect.locking.protocol import LockManager
from prefect_redis.locking import RedisLockManager
from redis.lock import Lock

from dailies.settings import Settings


class LeasedRedisLockManager(RedisLockManager):
    def __init__(self, connection_url: str, lease_s: float) -> None:
        self.lease_s = lease_s
        self._heartbeats: dict[str, threading.Event] = {}
        super().__init__(connection_url=connection_url)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "lease_s": self.lease_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._heartbeats = {}

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        acquired = super().acquire_lock(key, holder, acquire_timeout, hold_timeout or self.lease_s)
        if acquired and hold_timeout is None:
            self._start_heartbeat(key, holder)
        return acquired

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        acquired = await super().aacquire_lock(
            key, holder, acquire_timeout, hold_timeout or self.lease_s
        )
        if acquired and hold_timeout is None:
            self._start_heartbeat(key, holder)
        return acquired

    def release_lock(self, key: str, holder: str) -> None:
        self._stop_heartbeat(key)
        super().release_lock(key, holder)

    def _start_heartbeat(self, key: str, holder: str) -> None:
        self._stop_heartbeat(key)
        stop = threading.Event()
        self._heartbeats[key] = stop
        lease = Lock(
            self.client, self._lock_name_for_key(key), timeout=self.lease_s, thread_local=False
        )
        lease.local.token = holder.encode()

        def renew() -> None:
            while not stop.wait(self.lease_s / 3):
                try:
                    lease.reacquire()
                except Exception:  # lost or released: nothing left to renew
                    return

        threading.Thread(target=renew, name=f"lease:{key}", daemon=True).start()

    def _stop_heartbeat(self, key: str) -> None:
        stop = self._heartbeats.pop(key, None)
        if stop is not None:
            stop.set()


_memory = MemoryLockManager()


def lock_manager(settings: Settings) -> LockManager:
    """Redis when configured (many workers); otherwise in-process (one machine)."""
    if settings.redis_url:
        return LeasedRedisLockManager(settings.redis_url, settings.lock_lease_s)
    return _memory
