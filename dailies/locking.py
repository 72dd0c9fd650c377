"""Lock managers for Prefect's SERIALIZABLE cache transactions.

prefect-redis takes its locks with no expiry (the transaction passes no hold_timeout), so a
worker killed while holding one would block that sha forever. Ours always expire.
"""

from __future__ import annotations

from typing import Any

from prefect.locking.memory import MemoryLockManager
from prefect.locking.protocol import LockManager
from prefect_redis.locking import RedisLockManager

from dailies.settings import Settings


class ExpiringRedisLockManager(RedisLockManager):
    def __init__(self, connection_url: str, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        super().__init__(connection_url=connection_url)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "ttl_s": self.ttl_s}

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        return super().acquire_lock(key, holder, acquire_timeout, hold_timeout or self.ttl_s)

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        return await super().aacquire_lock(
            key, holder, acquire_timeout, hold_timeout or self.ttl_s
        )


_memory = MemoryLockManager()


def lock_manager(settings: Settings) -> LockManager:
    """Redis when configured (many workers); otherwise in-process (one machine)."""
    if settings.redis_url:
        return ExpiringRedisLockManager(settings.redis_url, settings.lock_ttl_s)
    return _memory
