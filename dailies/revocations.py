"""A revoked token is refused at once, by every API process.

Each API process keeps its recent token lookups (api/auth.py's TokenCache): without them a
burst from one token would cost a database query per request. A revocation, wherever it is
made (`dailies keys revoke`), moves a shared mark; a process that sees the mark move forgets
its lookups before it answers, so the next request reads the key's row again.

The mark is a Redis key when Redis is configured (API processes on several hosts: a fleet
has Redis, dailies/fleet_rules.py) and otherwise a file under DAILIES_HOME, which every
process of one machine's stack shares (as dailies/locking.py's lock files do).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dailies.settings import Settings

REDIS_KEY = "dailies:auth:revocations"


def mark_file(settings: Settings) -> Path:
    return settings.home / "revocations"


def announce(settings: Settings) -> None:
    """Move the mark: called once a revocation is committed."""
    if settings.redis_url:
        import redis

        with redis.Redis.from_url(settings.redis_url, socket_timeout=5) as client:
            client.incr(REDIS_KEY)
        return
    path = mark_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{time.time_ns()}\n")  # the write moves the file's mtime: the mark


async def current(settings: Settings, redis: Any | None) -> str | None:
    """The mark as it stands (None: nothing revoked yet). Raises if Redis cannot say."""
    if redis is not None:
        value = await redis.get(REDIS_KEY)
        return None if value is None else str(value)
    try:
        return str(os.stat(mark_file(settings)).st_mtime_ns)
    except FileNotFoundError:
        return None
