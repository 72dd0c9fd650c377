"""`dailies promote|preview|audit` through the deployments, their default: the run is created
as the API creates it (named, tagged, idempotent), lands on a worker and shows in the Prefect
UI like any other; this process only follows it (its state, the preview's progress) and
prints a short summary. `--local` runs the flow in the command's own process instead.

A run the command launched goes on when the command is interrupted: Ctrl-C stops following,
never the work.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect.client.schemas.objects import FlowRun

from dailies import runs
from dailies.errors import DailiesError
from dailies.settings import Settings

FOLLOW_EVERY_S = 0.5


class NoWorker(DailiesError):
    """Nothing would run the launched run: say so before creating it."""


@dataclass(frozen=True)
class Followed:
    run: FlowRun
    url: str | None  # the run's page in the Prefect UI

    @property
    def completed(self) -> bool:
        return self.run.state is not None and self.run.state.is_completed()

    def failure(self) -> str:
        """Why it did not complete, in Prefect's words (one line)."""
        described = runs.describe_state(self.run)
        reason = str(described.get("error") or described["state"]).strip().splitlines()
        return reason[0] if reason else described["state"]


def run_url(flow_run_id: Any) -> str | None:
    from prefect.utilities.urls import url_for

    return url_for("flow-run", obj_id=str(flow_run_id))


async def _require_worker(settings: Settings, pool: str) -> None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        if not await runs.pool_has_live_worker(client, pool):
            raise NoWorker(
                f"no live worker in the {pool} pool: the run would wait; start one "
                f"(`dailies up`, or `dailies worker --pool {pool}`), or add --local"
            )


async def _launch(
    deployment: str,
    parameters: dict[str, Any],
    key_base: str,
    name: str,
    tags: list[str],
    first_attempt: int = 1,
) -> FlowRun:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await runs.launch(
            client, deployment, parameters, key_base, first_attempt, tags=tags, name=name
        )


def follow(run: FlowRun, what: str, progress: Callable[[], float | None] | None = None) -> Followed:
    """Draw the run's state (and `progress`, 0..1, when given) until it is final."""
    from prefect.client.orchestration import get_client
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    url = run_url(run.id)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with get_client(sync_client=True) as client, Progress(*columns, transient=True) as bar:
        task_id = bar.add_task(f"{what} {run.name}: scheduled", total=1.0)
        while True:
            run = client.read_flow_run(run.id)
            state = run.state
            if state is not None and state.is_final():
                return Followed(run, url)
            fraction = progress() if progress else None
            label = (state.name or state.type.value).lower() if state is not None else "pending"
            shown = f" {fraction:.0%}" if fraction is not None else ""
            bar.update(task_id, description=f"{what} {run.name}: {label}{shown}",
                       completed=fraction or 0.0)  # fmt: skip
            time.sleep(FOLLOW_EVERY_S)


def launch_promotion(
    settings: Settings, staging_key: str, sha256: str, asset: dict[str, Any] | None
) -> FlowRun:
    """The promote-master run the API would create for this key (the staged object checked
    first: a missing key is one line, before anything is created)."""
    from dailies.clients import s3_client
    from dailies.storage.staging import head_staging

    head_staging(s3_client(settings), settings.staging_bucket, staging_key)
    asyncio.run(_require_worker(settings, "cpu"))
    return asyncio.run(
        _launch(
            settings.promote_deployment,
            {"staging_key": staging_key, "sha256": sha256, "asset": asset},
            runs.promotion_key_base(sha256, staging_key),
            runs.promotion_run_name(sha256),
            ["promotion", runs.sha_tag(sha256)],
        )
    )


def promotion_result(settings: Settings, followed: Followed) -> dict[str, Any]:
    """The masters row the run recorded, with its outcome ({} if none)."""
    from dailies.clients import session_scope
    from dailies.db import masters

    with session_scope(settings) as session:
        return masters.promotion_result(session, str(followed.run.id)) or {}


def promoted_line(settings: Settings, result: dict[str, Any]) -> str:
    """What a promotion did, in one line (the CLI's, whichever process ran the flow)."""
    return (
        f"{result['status']}: s3://{settings.masters_bucket}/{result['masters_key']} version "
        f"{result['version_id']}, {result['retention_mode']} until {result['retain_until']}"
    )


def promotion_summary(settings: Settings, followed: Followed) -> str:
    result = promotion_result(settings, followed)
    if not result:
        return f"{followed.run.name}: completed ({followed.url})"
    return f"{promoted_line(settings, result)} (run {followed.run.name}: {followed.url})"


def launch_preview(settings: Settings, sha256: str, encoder: str) -> FlowRun:
    """A new attempt of the master's preview on the deployment for `encoder` (cpu: the cpu
    pool; nvenc/auto: the gpu pool), queued and attached as the API does; an attempt already
    running is followed rather than doubled."""
    from dailies.clients import session_scope
    from dailies.db import previews
    from dailies.db.previews import ACTIVE
    from dailies.previews import lifecycle

    gpu = encoder != "cpu"
    deployment = settings.preview_gpu_deployment if gpu else settings.preview_cpu_deployment
    pool = settings.gpu_work_pool if gpu else "cpu"
    with session_scope(settings) as session:
        row = previews.get_preview(session, sha256)
        running = row.flow_run_id if row is not None and row.status in ACTIVE else None
    if running is not None:
        run = asyncio.run(_read(running))
        if run is not None and run.state is not None and not run.state.is_final():
            return run
    asyncio.run(_require_worker(settings, pool))  # before the row is touched
    with session_scope(settings) as session:
        attempt = lifecycle.queue(session, sha256).attempt
    run = asyncio.run(
        _launch(
            deployment,
            {"sha256": sha256, "encoder": encoder},
            runs.preview_key_base(sha256),
            runs.preview_run_name(sha256, encoder),
            ["preview", runs.sha_tag(sha256)],
            first_attempt=attempt,
        )
    )
    with session_scope(settings) as session:
        lifecycle.attach_run(session, sha256, attempt, str(run.id))
    return run


def preview_progress(settings: Settings, sha256: str) -> Callable[[], float | None]:
    from dailies.clients import session_scope
    from dailies.db import previews

    def read() -> float | None:
        with session_scope(settings) as session:
            row = previews.get_preview(session, sha256)
            return row.progress if row is not None else None

    return read


def preview_result(settings: Settings, sha256: str) -> dict[str, Any]:
    """The previews row, as the API shows it."""
    from dailies.clients import session_scope
    from dailies.db import previews

    with session_scope(settings) as session:
        row = previews.get_preview(session, sha256)
        return previews.preview_as_dict(row) if row is not None else {}


def preview_summary(settings: Settings, sha256: str, followed: Followed) -> str:
    from dailies.preview_rules import manifest_url

    manifest = manifest_url(settings.edge_url, sha256)
    return f"ready: {manifest} (run {followed.run.name}: {followed.url})"


def launch_audit(settings: Settings, rehash_budget_bytes: int | None) -> FlowRun:
    parameters = {} if rehash_budget_bytes is None else {"rehash_budget_bytes": rehash_budget_bytes}
    asyncio.run(_require_worker(settings, "cpu"))
    return asyncio.run(
        _launch(
            settings.audit_deployment,
            parameters,
            f"audit:{uuid.uuid4()}",  # each command is an audit of its own
            runs.audit_run_name(),
            ["audit"],
        )
    )


async def _read(flow_run_id: str) -> FlowRun | None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await runs.read_run(client, uuid.UUID(flow_run_id))
