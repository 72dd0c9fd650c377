"""Per-token rate limits and single-flight claims: Redis when configured, else in-process.

The in-process variants are for one API process on one machine (the embedded default);
with several API replicas only the Redis ones keep their promises.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from typing import Protocol

import redis.asyncio
import redis.exceptions

from dailies.errors import RateLimited

logger = logging.getLogger("dailies.api")

PENDING = "pending:"


class RateLimiter(Protocol):
    async def hit(self, subject: str) -> None:
        """Count one request for `subject`; raise RateLimited when over the limit."""


class SingleFlight(Protocol):
    async def claim(self, key: str, ttl_s: int) -> str | None:
        """Take the key if nobody holds it; return a claim token, or None if taken."""

    async def publish(self, key: str, claim: str, value: str, ttl_s: int) -> None:
        """Replace our claim with the outcome (a flow run id) for latecomers to read."""

    async def peek(self, key: str) -> str | None: ...

    async def release(self, key: str, claim: str) -> None:
        """Give the key back if it is still ours (after a failure)."""


def _window(now: float, window_s: int) -> tuple[int, int]:
    index = int(now // window_s)
    retry_after = max(1, math.ceil((index + 1) * window_s - now))
    return index, retry_after


class RedisRateLimiter:
    """Fixed window per token: one INCR per request, the key expires with its window."""

    def __init__(self, redis: redis.asyncio.Redis, limit: int, window_s: int) -> None:
        self.redis, self.limit, self.window_s = redis, limit, window_s

    async def hit(self, subject: str) -> None:
        index, retry_after = _window(time.time(), self.window_s)
        key = f"dailies:ratelimit:{subject}:{index}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.window_s + 1)
                count, _ = await pipe.execute()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            # Fail open: a Redis outage must not lock editors out of uploads and
            # promotions; routes that need Redis for correctness fail on their own.
            logger.warning("rate limit not enforced, redis unavailable: %r", exc)
            return
        if int(count) > self.limit:
            raise RateLimited(retry_after)


class MemoryRateLimiter:
    def __init__(self, limit: int, window_s: int) -> None:
        self.limit, self.window_s = limit, window_s
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    async def hit(self, subject: str) -> None:
        index, retry_after = _window(time.time(), self.window_s)
        with self._lock:
            for stale in [k for k in self._counts if k[1] < index]:
                del self._counts[stale]
            count = self._counts.get((subject, index), 0) + 1
            self._counts[(subject, index)] = count
        if count > self.limit:
            raise RateLimited(retry_after)


# Compare-and-set/delete: a claim that expired and was taken by someone else must not be
# overwritten or deleted by its first holder.
_PUBLISH = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) end return nil"  # noqa: E501
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"  # noqa: E501
)


class RedisSingleFlight:
    def __init__(
        self, redis: redis.asyncio.Redis, namespace: str = "dailies:singleflight:"
    ) -> None:
        self.redis, self.namespace = redis, namespace

    async def claim(self, key: str, ttl_s: int) -> str | None:
        token = PENDING + uuid.uuid4().hex
        taken = await self.redis.set(self.namespace + key, token, nx=True, ex=ttl_s)
        return token if taken else None

    async def publish(self, key: str, claim: str, value: str, ttl_s: int) -> None:
        await self.redis.eval(_PUBLISH, 1, self.namespace + key, claim, value, ttl_s)  # type: ignore[misc]

    async def peek(self, key: str) -> str | None:
        value = await self.redis.get(self.namespace + key)
        return value.decode() if isinstance(value, bytes) else value

    async def release(self, key: str, claim: str) -> None:
        await self.redis.eval(_RELEASE, 1, self.namespace + key, claim)  # type: ignore[misc]


class MemorySingleFlight:
    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _get(self, key: str) -> str | None:
        found = self._values.get(key)
        if found is None or found[1] <= time.monotonic():
            self._values.pop(key, None)
            return None
        return found[0]

    async def claim(self, key: str, ttl_s: int) -> str | None:
        with self._lock:
            if self._get(key) is not None:
                return None
            token = PENDING + uuid.uuid4().hex
            self._values[key] = (token, time.monotonic() + ttl_s)
            return token

    async def publish(self, key: str, claim: str, value: str, ttl_s: int) -> None:
        with self._lock:
            if self._get(key) == claim:
                self._values[key] = (value, time.monotonic() + ttl_s)

    async def peek(self, key: str) -> str | None:
        with self._lock:
            return self._get(key)

    async def release(self, key: str, claim: str) -> None:
        with self._lock:
            if self._get(key) == claim:
                del self._values[key]
