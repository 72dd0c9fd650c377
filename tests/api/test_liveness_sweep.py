"""The liveness sweep (dailies/previews/liveness.py): runs that died are replaced with no request
from anyone, runs that live are left alone; real Prefect server, real Postgres.

Most tests call `sweep_once` themselves, so each verdict is read from its answer rather than
waited for; the last proves the API runs the sweep on its own, in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from api.app import create_app
from dailies.clients import session_scope
from dailies.db.models import Preview
from dailies.preview_rules import Liveness
from dailies.previews.liveness import Swept, sweep_once
from tests.api.conftest import insert_master, serve
from tests.api.prefect_helpers import crash_run, read_run, runs_for_sha, set_state
from tests.faults.outcome import wait_for


def _row(settings: Any, sha: str) -> Preview:
    with session_scope(settings) as session:
        found = session.get(Preview, sha)
        assert found is not None
        return found


def _age_row(settings: Any, sha: str, minutes: float) -> None:
    with session_scope(settings) as session:
        preview = session.get(Preview, sha)
        assert preview is not None
        preview.updated_at = datetime.now(UTC) - timedelta(minutes=minutes)
    # Past the first trigger's claim, so a request now would act, not follow a holder.
    redis.Redis.from_url(settings.redis_url).delete(f"dailies:singleflight:{sha}")


def _sweep(settings: Any, sha: str) -> Swept:
    """One sweep, as an API replica runs it; what it did to `sha`'s run."""
    from prefect.client.orchestration import get_client

    async def once() -> list[Swept]:
        async with get_client() as client:
            return await sweep_once(client, settings)

    mine = [s for s in asyncio.run(once()) if s.sha256 == sha]
    assert len(mine) == 1, mine
    return mine[0]


@pytest.fixture
def launched(api_settings: Any) -> tuple[str, str]:
    """A master whose preview has an attempt and its run, as the API leaves them: (sha, run
    id). The run belongs to no deployment, so no worker of this session takes it and changes
    the state each test sets (the runs the sweep launches are real deployment runs)."""
    from prefect.client.orchestration import get_client

    from dailies.previews import lifecycle
    from dailies.runs import sha_tag
    from flows.preview import build_preview

    sha = insert_master(api_settings)

    async def create() -> str:
        async with get_client() as client:
            run = await client.create_flow_run(
                build_preview, parameters={"sha256": sha}, tags=["preview", sha_tag(sha)]
            )
            return str(run.id)

    run_id = asyncio.run(create())
    with session_scope(api_settings) as session:
        attempt = lifecycle.queue(session, sha).attempt
        lifecycle.attach_run(session, sha, attempt, run_id)
    return sha, run_id


def test_a_run_that_crashed_unnoticed_is_replaced_by_a_new_attempt(
    launched: tuple[str, str], api_settings: Any, reviewer: httpx.Client
) -> None:
    sha, run_id = launched
    crash_run(run_id)
    _age_row(api_settings, sha, minutes=5)

    swept = _sweep(api_settings, sha)
    assert swept.liveness == Liveness.DIED and swept.relaunched_as not in (None, run_id)
    assert {str(r.id) for r in runs_for_sha(sha)} == {run_id, swept.relaunched_as}
    row = _row(api_settings, sha)  # (a worker of this session may already be running it)
    assert (row.flow_run_id, row.attempts) == (swept.relaunched_as, 2)
    # A reviewer asking now is told of the new attempt, and nothing more is launched.
    body = reviewer.post("/api/preview", json={"sha": sha}).json()
    assert body["flow_run_id"] == swept.relaunched_as and len(runs_for_sha(sha)) == 2


def test_a_stalled_run_is_marked_crashed_and_replaced(
    launched: tuple[str, str], api_settings: Any
) -> None:
    """A host killed with its worker leaves the run RUNNING for ever: no progress for
    preview_stall_s makes the sweep crash it in Prefect and launch again."""
    from prefect.states import Running

    sha, run_id = launched
    set_state(run_id, Running())
    _age_row(api_settings, sha, minutes=api_settings.preview_stall_s / 60 + 1)

    swept = _sweep(api_settings, sha)
    assert swept.liveness == Liveness.DIED and swept.relaunched_as not in (None, run_id)
    dead = read_run(run_id)
    assert dead.state is not None and dead.state.type.value == "CRASHED"
    assert "no progress" in (dead.state.message or "")
    assert _row(api_settings, sha).attempts == 2


def test_a_running_run_with_recent_progress_is_left_alone(
    launched: tuple[str, str], api_settings: Any
) -> None:
    from prefect.states import Running

    sha, run_id = launched
    set_state(run_id, Running())
    _age_row(api_settings, sha, minutes=api_settings.preview_recheck_after_s / 60 + 0.5)

    assert _sweep(api_settings, sha) == Swept(sha, run_id, Liveness.ALIVE)
    assert read_run(run_id).state.type.value == "RUNNING"  # type: ignore[union-attr]
    assert [str(r.id) for r in runs_for_sha(sha)] == [run_id]
    assert _row(api_settings, sha).status == "queued"


def test_a_run_that_ended_without_a_preview_fails_the_row_and_is_not_relaunched(
    launched: tuple[str, str], api_settings: Any
) -> None:
    """Its failure stands: the back-off applies to the next request, not a relaunch loop."""
    from prefect.states import Failed

    sha, run_id = launched
    set_state(run_id, Failed(message="ffmpeg: invalid data in /tmp/dailies-preview-x/master"))
    _age_row(api_settings, sha, minutes=5)

    swept = _sweep(api_settings, sha)
    assert swept.liveness == Liveness.ENDED and swept.relaunched_as is None
    row = _row(api_settings, sha)
    assert (row.status, row.flow_run_id, row.attempts) == ("failed", run_id, 1)
    assert row.error == f"flow run {run_id} failed: ffmpeg: invalid data in <scratch>"
    assert [str(r.id) for r in runs_for_sha(sha)] == [run_id]


def test_a_preview_whose_runs_keep_dying_is_relaunched_only_so_often(
    launched: tuple[str, str], api_settings: Any
) -> None:
    """A master that kills every worker building it is not relaunched for ever: at
    preview_sweep_max_attempts the row fails, and only a request launches again."""
    sha, run_id = launched
    crash_run(run_id)
    with session_scope(api_settings) as session:
        preview = session.get(Preview, sha)
        assert preview is not None
        preview.attempts = api_settings.preview_sweep_max_attempts
    _age_row(api_settings, sha, minutes=5)

    swept = _sweep(api_settings, sha)
    assert swept.liveness == Liveness.DIED and swept.relaunched_as is None
    row = _row(api_settings, sha)
    assert row.status == "failed" and row.error is not None
    assert row.error.endswith(
        f"; {api_settings.preview_sweep_max_attempts} attempts died: ask again"
    )
    assert [str(r.id) for r in runs_for_sha(sha)] == [run_id]


def test_a_row_whose_run_id_prefect_never_issued_is_relaunched(api_settings: Any) -> None:
    """A row naming a run Prefect does not know (a wiped Prefect database) is dead, and one
    bad row never stops the sweep of the others."""
    sha = insert_master(
        api_settings, {"status": "building", "flow_run_id": "not-a-uuid", "attempts": 1}
    )
    _age_row(api_settings, sha, minutes=5)
    swept = _sweep(api_settings, sha)
    assert swept.liveness == Liveness.DIED and swept.relaunched_as is not None
    assert _row(api_settings, sha).attempts == 2


@pytest.fixture
def sweeping_api(api_settings: Any) -> Iterator[str]:
    """An API replica sweeping twice a second (the shared test API does not sweep)."""
    with serve(create_app(api_settings.model_copy(update={"preview_sweep_interval_s": 0.5}))):
        yield "sweeping"


def test_the_api_sweeps_on_its_own_with_nobody_asking(
    launched: tuple[str, str], api_settings: Any, sweeping_api: str
) -> None:
    sha, run_id = launched
    crash_run(run_id)
    _age_row(api_settings, sha, minutes=5)

    new_run = wait_for(
        "the sweep to launch the next attempt",
        lambda: (
            (row := _row(api_settings, sha)).flow_run_id not in (None, run_id) and row.flow_run_id
        ),
        60,
        0.1,
    )
    assert {str(r.id) for r in runs_for_sha(sha)} == {run_id, new_run}


def test_an_attempt_whose_launcher_died_before_its_run_is_launched(api_settings: Any) -> None:
    """The API died between the attempt's row and its run: the sweep launches it under the
    same attempt number (its idempotency key would find a run Prefect created after all)."""
    sha = insert_master(api_settings, {"status": "queued", "attempts": 3})
    _age_row(api_settings, sha, minutes=5)

    swept = _sweep(api_settings, sha)
    assert swept.flow_run_id is None and swept.relaunched_as is not None
    row = _row(api_settings, sha)  # (a worker of this session may already be running it)
    assert (row.flow_run_id, row.attempts) == (swept.relaunched_as, 3)
    assert [str(r.id) for r in runs_for_sha(sha)] == [swept.relaunched_as]


def test_a_run_its_host_failed_hands_the_preview_back_at_once(
    launched: tuple[str, str], api_settings: Any, deployments: None
) -> None:
    """tasks/handback.py, through the flow's own failure hook: a run that failed with trouble
    that passes (its host cut from S3) is marked Crashed and its next attempt launched now,
    with the row never failed and not after preview_recheck_after_s (the row is fresh)."""
    from botocore.exceptions import EndpointConnectionError
    from prefect.states import Failed

    from tasks.preview import record_preview_failure

    sha, run_id = launched
    cut = EndpointConnectionError(endpoint_url="http://s3:5000/masters/x")
    state = Failed(data=cut, message=f"Flow run encountered an exception: {cut}")
    set_state(run_id, state)

    record_preview_failure(None, flow_run=read_run(run_id), state=state)

    dead = read_run(run_id)
    assert dead.state is not None and dead.state.type.value == "CRASHED"
    assert "this host failed the build" in (dead.state.message or "")
    row = _row(api_settings, sha)
    assert row.status in ("queued", "building") and row.attempts == 2, (row.status, row.error)
    assert {str(r.id) for r in runs_for_sha(sha)} == {run_id, row.flow_run_id}


def test_a_run_that_failed_for_its_own_reasons_is_not_handed_back(
    launched: tuple[str, str], api_settings: Any
) -> None:
    from prefect.states import Failed

    from dailies.errors import UnplayableMaster
    from tasks.preview import record_preview_failure

    sha, run_id = launched
    state = Failed(data=UnplayableMaster("ffprobe: no video stream"), message="no video stream")
    set_state(run_id, state)

    record_preview_failure(None, flow_run=read_run(run_id), state=state)

    assert read_run(run_id).state.type.value == "FAILED"  # type: ignore[union-attr]
    row = _row(api_settings, sha)
    assert (row.status, row.attempts) == ("failed", 1)
    assert [str(r.id) for r in runs_for_sha(sha)] == [run_id]
