"""Long-polling for a playable preview: `POST /api/preview` may wait until the multivariant
playlist is in the previews bucket, so a player starts the moment it exists instead of on its
next poll.

One poller per sha per API process, however many requests wait on it: a 500-reviewer storm
costs one HEAD every `interval_s`, not 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import anyio.to_thread

logger = logging.getLogger("dailies.api")


class MultivariantWatch:
    def __init__(
        self, exists: Callable[[str], bool], interval_s: float = 0.05, max_wait_s: float = 8.0
    ) -> None:
        self._exists = exists  # blocking (an S3 HEAD): run in a worker thread
        self.interval_s, self.max_wait_s = interval_s, max_wait_s
        self._polls: dict[str, asyncio.Task[bool]] = {}

    async def wait(self, sha: str, timeout_s: float) -> bool:
        """True once the multivariant playlist exists, False when `timeout_s` passes first.
        With no time to wait, one look: a caller that does not long-poll still hears that it
        can play now (the route looks only once the trigger has answered)."""
        if timeout_s <= 0:
            return bool(await anyio.to_thread.run_sync(self._probe, sha))
        deadline = time.monotonic() + min(timeout_s, self.max_wait_s)
        # A poll joined late ends at its starter's deadline: start another for the rest.
        while (left := deadline - time.monotonic()) > 0:
            poll = self._polls.get(sha)
            if poll is None or poll.done():
                poll = asyncio.create_task(self._poll(sha))
                self._polls[sha] = poll
            try:
                # shield: a waiter that gives up must not cancel the poll others share.
                if await asyncio.wait_for(asyncio.shield(poll), left):
                    return True
            except TimeoutError:
                return False
        return False

    async def _poll(self, sha: str) -> bool:
        deadline = time.monotonic() + self.max_wait_s
        try:
            while True:
                if await anyio.to_thread.run_sync(self._probe, sha):
                    return True
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(self.interval_s)
        finally:
            if self._polls.get(sha) is asyncio.current_task():
                del self._polls[sha]

    def _probe(self, sha: str) -> bool:
        """The store failing to answer is "not yet", not an error for every waiter: the
        player asks again, and the edge says whether the playlist is really there."""
        try:
            return self._exists(sha)
        except Exception as exc:
            logger.warning("multivariant playlist check for %s failed: %s", sha[:12], exc)
            return False

    async def close(self) -> None:
        for poll in list(self._polls.values()):
            poll.cancel()
        self._polls.clear()
