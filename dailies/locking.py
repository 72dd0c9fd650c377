"""Lock managers for Prefect's SERIALIZABLE cache transactions.

Prefect's stock managers take locks with no expiry (the transaction passes no hold_timeout),
so a worker killed while holding one would block that sha forever. Ours are leases: a short
TTL that a heartbeat thread renews while the holder lives. A killed holder stops renewing and
its lock lapses within one TTL; a slow but living holder never loses it.

Redis when configured (locks span machines); otherwise lock files under DAILIES_HOME, which
every process of one machine's stack shares (a flow run is a process of its own, so an
in-memory lock would serialise nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic_core
from prefect.locking.filesystem import FileSystemLockManager
from prefect.locking.protocol import LockManager
from prefect.types._datetime import now
from prefect_redis.locking import RedisLockManager
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from dailies.settings import Settings


class _Leases:
    """Acquire with a lease and renew it from a thread until release (or process death)."""

    lease_s: float
    _heartbeats: dict[str, threading.Event]

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        acquired: bool = super().acquire_lock(  # type: ignore[misc]
            key, holder, acquire_timeout, hold_timeout or self.lease_s
        )
        if acquired and hold_timeout is None:
            self._start_heartbeat(key, self._renewer(key, holder))
        return acquired

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        acquired: bool = await super().aacquire_lock(  # type: ignore[misc]
            key, holder, acquire_timeout, hold_timeout or self.lease_s
        )
        if acquired and hold_timeout is None:
            self._start_heartbeat(key, self._renewer(key, holder))
        return acquired

    def release_lock(self, key: str, holder: str) -> None:
        self._stop_heartbeat(key)
        try:
            super().release_lock(key, holder)  # type: ignore[misc]
        except ValueError:
            # Another holder has the key: our lease lapsed (Redis restarted and forgot it).
            # Nothing of ours is left to release, and the work done under it stands.
            return

    def _renewer(self, key: str, holder: str) -> Callable[[], bool]:
        """Pushes the lease of `key` forward; False once it is no longer `holder`'s."""
        raise NotImplementedError

    def _start_heartbeat(self, key: str, renew: Callable[[], bool]) -> None:
        self._stop_heartbeat(key)
        stop = threading.Event()
        self._heartbeats[key] = stop

        def beat() -> None:
            while not stop.wait(self.lease_s / 3):
                try:
                    if not renew():
                        return  # lost or released: nothing left to renew
                except Exception:
                    continue  # the store is unreachable (restarting?): try again next beat

        threading.Thread(target=beat, name=f"lease:{key}", daemon=True).start()

    def _stop_heartbeat(self, key: str) -> None:
        stop = self._heartbeats.pop(key, None)
        if stop is not None:
            stop.set()


class LeasedRedisLockManager(_Leases, RedisLockManager):
    def __init__(self, connection_url: str, lease_s: float) -> None:
        self.lease_s = lease_s
        self._heartbeats = {}
        super().__init__(connection_url=connection_url)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "lease_s": self.lease_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._heartbeats = {}

    def _renewer(self, key: str, holder: str) -> Callable[[], bool]:
        name = self._lock_name_for_key(key)
        lease = Lock(self.client, name, timeout=self.lease_s, thread_local=False)
        lease.local.token = holder.encode()

        def renew() -> bool:
            try:
                return bool(lease.reacquire())
            except LockNotOwnedError:
                # A restarted Redis forgot the lease: take it back unless another holder
                # got there first (then the previews row fences the build, db/previews.py).
                ms = int(self.lease_s * 1000)
                return bool(self.client.set(name, holder, nx=True, px=ms))

        return renew


class LeasedFileLockManager(_Leases, FileSystemLockManager):
    """Prefect's lock files, with an expiry that the holder keeps pushing forward."""

    def __init__(self, directory: Path, lease_s: float) -> None:
        self.lease_s = lease_s
        self._heartbeats = {}
        super().__init__(directory)

    def __getstate__(self) -> dict[str, Any]:
        return {"lock_files_directory": self.lock_files_directory, "lease_s": self.lease_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["lock_files_directory"], state["lease_s"])  # type: ignore[misc]

    def _renewer(self, key: str, holder: str) -> Callable[[], bool]:
        return lambda: self._extend(key, holder)

    def _extend(self, key: str, holder: str) -> bool:
        """Rewrite our lock file with a later expiry, if it is still ours."""
        info = self._get_lock_info(key, use_cache=False)
        if info is None or info["holder"] != holder:
            return False
        expiration = now("UTC") + timedelta(seconds=self.lease_s)
        body = pydantic_core.to_json({"holder": holder, "expiration": str(expiration)})
        partial = info["path"].with_suffix(".renew")
        partial.write_bytes(body)
        partial.replace(info["path"])  # atomic: readers never see half a file
        self._locks[key] = {**info, "expiration": expiration}
        return True


def lock_manager(settings: Settings) -> LockManager:
    """Redis when configured (many workers); otherwise lock files (one machine)."""
    if settings.redis_url:
        return LeasedRedisLockManager(settings.redis_url, settings.lock_lease_s)
    return LeasedFileLockManager(settings.home.resolve() / "locks", settings.lock_lease_s)
