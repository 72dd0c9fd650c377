"""`dailies worker`: Prefect's process worker for one pool, as `prefect worker start` runs it,
with one difference, on SIGTERM.

Prefect's worker answers SIGTERM like Ctrl-C: it stops polling and, on its way out, kills
every flow run it started (its process manager's exit). SIGTERM is how a host restarts a
worker (systemd, a deploy, `dailies up` stopping or replacing one), so every build in flight
on that host would die with the restart and start again from zero once the liveness sweep
noticed. The flow runs do not need their worker: they run in sessions of their own, write
nothing to it (the pools' `stream_output` is off) and report their own state and heartbeats
to Prefect, where the sweep watches them. So here SIGTERM ends the worker at once and leaves
its runs to finish (the same as a worker killed outright, which the fault suite proves
harmless); the next worker, under a new name, takes the next runs. Ctrl-C (SIGINT) keeps
Prefect's meaning: stop, and end the runs with it.

It also takes no run while its host cannot reach the object store (a poll that finds the
store silent is skipped, and says so once): a host cut from S3 would otherwise take every
relaunch it polled for first and fail each in turn until the attempts ran out, while another
host could build it. Any answer from the store counts as reachable (a 403 or a 503 is the
store's to explain, and the run's to report); only a connection that fails does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from typing import Any


def _leave_runs_running(signum: int, frame: object) -> None:
    print(
        "dailies worker: SIGTERM: stopping now; the flow runs it started finish on their own",
        file=sys.stderr,
        flush=True,
    )
    # No clean-up on purpose: the worker's exit path is what would kill its runs.
    os._exit(0)


STORE_CHECK_S = 5.0  # how long a store check holds before the next poll asks again


def _store_reachable() -> bool:
    """Whether the object store answers at all (any status), within the probe's 3 s."""
    import botocore.exceptions

    from dailies.clients import s3_probe_client
    from dailies.settings import get_settings

    settings = get_settings()
    try:
        s3_probe_client(settings).head_bucket(Bucket=settings.previews_bucket)
    except botocore.exceptions.ClientError:
        return True  # the store answered (403, 404, 503): reachable
    except (botocore.exceptions.BotoCoreError, OSError):
        return False
    return True


def _worker_class() -> type:
    import anyio.to_thread
    from prefect.workers.process import ProcessWorker

    class StoreAwareWorker(ProcessWorker):  # type: ignore[misc]
        """Prefect's process worker that skips its polls while the store is out of reach."""

        _reachable, _checked_at = True, -STORE_CHECK_S

        async def get_and_submit_flow_runs(self) -> Any:
            now = time.monotonic()
            if now - self._checked_at >= STORE_CHECK_S:
                reachable = await anyio.to_thread.run_sync(_store_reachable)
                if reachable != self._reachable:
                    self._logger.warning(
                        "the object store is %s: %s",
                        "reachable again" if reachable else "out of reach",
                        "taking runs" if reachable else "taking no run until it answers",
                    )
                self._reachable, self._checked_at = reachable, now
            if not self._reachable:
                return []
            return await super().get_and_submit_flow_runs()

    return StoreAwareWorker


async def _serve(pool: str, name: str | None, limit: int | None) -> None:
    from prefect.settings import (
        PREFECT_WORKER_HEARTBEAT_SECONDS,
        PREFECT_WORKER_PREFETCH_SECONDS,
    )

    worker = _worker_class()(
        work_pool_name=pool,
        name=name,
        limit=limit,
        prefetch_seconds=PREFECT_WORKER_PREFETCH_SECONDS.value(),
        heartbeat_interval_seconds=int(PREFECT_WORKER_HEARTBEAT_SECONDS.value()),
        # The pools and their job templates come from `dailies bootstrap` (work_pools/): a
        # pool created here would be Prefect's default, streaming its runs' output.
        create_pool_if_not_found=False,
    )
    await worker.start(printer=print)  # enters the worker itself; "Worker '…' started!"


def serve(pool: str, name: str | None = None, limit: int | None = None) -> None:
    """Poll `pool` until SIGTERM (runs left running) or Ctrl-C (runs ended)."""
    signal.signal(signal.SIGTERM, _leave_runs_running)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(pool, name, limit))
