"""A build that failed for its host's reasons hands its preview back at once.

A worker host that cannot reach S3 (its link to the s3 host cut, a route or a firewall gone
wrong) fails every build it takes, once the tasks' retries are spent, with trouble
tasks/retry.py calls transient: nothing is wrong with the master or the build, only with
where it ran. Failing the previews row would leave the preview failed until someone asks
again (and then behind the back-off). Prefect calls a run that an infrastructure problem
stopped Crashed, so the run is marked Crashed and the liveness sweep's own judgement
(`check_run`) runs on it at once rather than after preview_recheck_after_s: the preview is
queued as its next attempt and launched for any worker of the pool, within the same
preview_sweep_max_attempts as a killed host's. Which worker takes it is Prefect's choice:
the cut host may take it again, fail it again and hand it back again.
"""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import get_client
from prefect.utilities.asyncutils import run_coro_as_sync

from dailies import runs
from dailies.clients import session_scope
from dailies.db import previews
from dailies.previews.liveness import check_run
from dailies.settings import get_settings
from tasks.retry import is_transient
from tasks.run_context import run_logger


def failed_for_its_host(state: Any) -> bool:
    """Whether a Failed run's exception is trouble that passes (an unreachable service),
    not the build's own failure."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - classified, not swallowed
        return is_transient(exc)
    return False


def hand_back(flow_run_id: Any, sha: str, reason: str) -> bool:
    """Mark the run Crashed and let the liveness sweep's check relaunch its preview. False
    when the row no longer points at this run (another attempt has it) or nothing could be
    done (Prefect or the catalog away too: the sweep then finds the row as it always has)."""
    settings = get_settings()
    logger = run_logger("dailies.preview")
    with session_scope(settings) as session:
        row = previews.get_preview(session, sha)
        current = row is not None and row.flow_run_id == str(flow_run_id)
        attempts, updated_at = (row.attempts, row.updated_at) if row is not None else (0, None)
    if not current:
        return False

    async def crash_and_check() -> str | None:
        async with get_client() as prefect:
            await runs.mark_crashed(prefect, flow_run_id, f"this host failed the build: {reason}")
            swept = await check_run(prefect, settings, sha, str(flow_run_id), updated_at, attempts)
            return swept.relaunched_as

    try:
        relaunched = run_coro_as_sync(crash_and_check())
    except Exception as exc:  # noqa: BLE001 - the sweep is still there to find the row
        logger.warning("preview of %s not handed back (%r); the liveness sweep will", sha[:12],
                       exc)  # fmt: skip
        return False
    logger.warning("%s: handed back to the pool, relaunched as %s", reason, relaunched)
    return True
