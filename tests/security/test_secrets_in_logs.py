"""The attack: read a presigned master URL or a reviewer's grant out of what the stack keeps.

ffprobe names its input (a presigned URL) in its errors and in its JSON (`format.filename`),
ffmpeg in what it prints; an edge access log keeps every `?grant=`. Anyone who can read a log
file, the Prefect API (no login) or the catalog could then read masters or watch previews.
After a real promotion and preview of a good master and of a corrupt one (whose ffprobe error
carries the URL), on the session's cpu worker and task worker, and a playback through a real
edge with `?grant=` only, nothing the stack wrote holds a signature, a credential or a grant.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    LogFilter,
    LogFilterTimestamp,
    TaskRunFilter,
    TaskRunFilterStartTime,
    TaskRunFilterTags,
)
from prefect.deployments import run_deployment

from dailies import runs
from dailies.clients import engine
from dailies.redaction import REDACTED
from ops.edge import start_edge
from ops.processes import LOG_MODE, Service, free_port
from tests import preview_fixtures as media
from tests.staging import stage_bytes

pytestmark = pytest.mark.slow

T = TypeVar("T")
# tests/conftest.py put DAILIES_HOME under its run folder (importing it would re-run it).
RUN_DIR = Path(os.environ["DAILIES_HOME"]).parent
# A signature, credential or session token that is still there (redacted ones are fine).
LEAKED = re.compile(rf"X-Amz-(?:Signature|Credential|Security-Token)=(?!{REDACTED})", re.I)


@pytest.fixture(scope="module")
def watched_edge(
    stack: Any, deployed: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The API (first renditions on) under uvicorn, and the nginx edge in front of it."""
    from api.app import create_app
    from tests.serving import serve

    port = free_port()
    settings = stack.model_copy(
        update={"preview_retry_after_s": 1, "edge_url": f"http://127.0.0.1:{port}"}
    )
    run_dir = tmp_path_factory.mktemp("secrets-edge")
    with serve(create_app(settings), access_log=False) as api:
        service = start_edge(
            settings, port=port, api_upstream=api, run_dir=run_dir, log_dir=run_dir / "logs"
        )
        try:
            yield service
        finally:
            service.stop()


def test_no_signature_or_grant_in_any_log_or_record(
    watched_edge: Service, cpu_worker: Any, task_worker: Any, stack: Any, s3: Any,
    tokens: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    since = datetime.now(UTC)
    good = _promote_on_the_worker(s3, stack, media.make_small(tmp_path / "good.mov"))
    corrupt = _promote_on_the_worker(s3, stack, media.make_corrupt(tmp_path / "corrupt.mov"))

    grants: list[str] = []
    reviewer = {"Authorization": f"Bearer {tokens['reviewer']}"}
    with httpx.Client(base_url=watched_edge.url, headers=reviewer, timeout=60) as api:

        def ask(sha: str, wait_s: int = 0) -> dict[str, Any]:
            answer = api.post("/api/preview", json={"sha": sha, "wait_s": wait_s})
            assert answer.status_code in (200, 202), answer.text
            grants.append(answer.json()["grant"])
            return dict(answer.json())

        # The corrupt master: its first rendition (task worker) probes the presigned URL.
        ask(corrupt)
        # The good one, as the player asks, until playable; then watched with ?grant= only.
        _eventually("playable", lambda: ask(good, 8).get("playable"), 120)
        with httpx.Client(base_url=watched_edge.url, timeout=30) as viewer:  # no cookies kept
            grant = grants[-1]
            for name in ("manifest.m3u8", "first/index.m3u8"):
                got = viewer.get(f"/previews/{good}/{name}", params={"grant": grant})
                assert got.status_code == 200, (name, got.status_code)
        for sha in (good, corrupt):
            _eventually(f"{sha[:12]} settled", lambda s=sha: _settled(api, s), 240)

    # Positive controls: the URL-bearing paths ran, and were redacted rather than skipped.
    failed = _eventually("the corrupt master's first rendition fails",
                         lambda: _first_rendition_failure(corrupt), 60)  # fmt: skip
    assert "ffprobe cannot read the master" in failed, failed
    assert f"X-Amz-Signature={REDACTED}" in failed, failed
    prefect = _prefect_records(since)
    access = Path(watched_edge.extra["access_log"])
    assert f"?grant={REDACTED} " in access.read_text()

    secrets = [*grants, *(g.split(".")[1] for g in grants)]
    places = {
        **{str(path): _read(path) for path in _log_files(watched_edge)},
        "the Prefect API": prefect,
        "the catalog": _catalog_text(),
        "this process's log (the API's)": caplog.text,
    }
    found = {(where, s[:24]) for where, text in places.items() for s in secrets if s in text}
    found |= {(where, m[0]) for where, text in places.items() for m in LEAKED.finditer(text)}
    assert not found, found
    # ...and the edge's logs are not for every local user.
    for path in (access, access.with_name("edge.log")):
        assert stat.S_IMODE(path.stat().st_mode) == LOG_MODE, path


def _promote_on_the_worker(s3: Any, stack: Any, path: Path) -> str:
    key, sha = stage_bytes(s3, stack, path.read_bytes(), name=path.name)
    run = run_deployment(
        "promote-master/promote-master",
        parameters={"staging_key": key, "sha256": sha},
        timeout=240,
    )
    assert run.state is not None and run.state.is_completed(), run.state
    return sha


def _settled(api: httpx.Client, sha: str) -> bool:
    """The ladder's run is over (the first rendition's task may still be failing)."""
    status = api.get(f"/api/preview/{sha}")
    assert status.status_code == 200, status.text
    return status.json()["status"] in ("ready", "failed")


def _eventually(what: str, check: Callable[[], T | None], timeout_s: float) -> T:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.5)
    return found


def _log_files(edge: Service) -> list[Path]:
    """Every file the session's services and this edge wrote under their log folders."""
    folders = [RUN_DIR / "logs", Path(edge.extra["access_log"]).parent]
    return [path for folder in folders for path in folder.rglob("*") if path.is_file()]


def _read(path: Path) -> str:
    return path.read_bytes().decode(errors="replace")


def _first_rendition_failure(sha: str) -> str | None:
    """The state message of the master's failed first-rendition task run, once there is one."""

    async def read() -> str | None:
        async with get_client() as client:
            found = await client.read_task_runs(
                task_run_filter=TaskRunFilter(tags=TaskRunFilterTags(all_=[runs.sha_tag(sha)]))
            )
        done = [r.state for r in found if r.state is not None and r.state.is_failed()]
        return str(done[0].message) if done else None

    return asyncio.run(read())


def _prefect_records(since: datetime) -> str:
    """Everything the Prefect API shows about runs since `since`, as JSON text: flow runs
    (parameters, states), task runs (inputs, states; the first renditions' included), logs
    and artifacts."""

    async def read() -> str:
        async with get_client() as client:
            flow_runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(after_=since)
                )
            )
            task_runs = await client.read_task_runs(
                task_run_filter=TaskRunFilter(start_time=TaskRunFilterStartTime(after_=since))
            )
            parts = [run.model_dump_json() for run in [*flow_runs, *task_runs]]
            for flow_run in flow_runs:
                states = await client.read_flow_run_states(flow_run.id)
                parts += [state.model_dump_json() for state in states]
            for task_run in task_runs:
                states = await client.read_task_run_states(task_run.id)
                parts += [state.model_dump_json() for state in states]
            offset = 0
            while page := await client.read_logs(
                LogFilter(timestamp=LogFilterTimestamp(after_=since)), limit=200, offset=offset
            ):
                parts += [log.model_dump_json() for log in page]
                offset += len(page)
            artifacts = await client.read_artifacts()
            parts += [a.model_dump_json() for a in artifacts if a.created and a.created >= since]
            return "\n".join(parts)

    return asyncio.run(read())


def _catalog_text() -> str:
    """Every row of every table in the catalog, as Postgres prints it."""
    with engine().connect() as connection:
        tables = sa.inspect(connection).get_table_names()
        return "\n".join(
            str(row[0])
            for table in tables
            for row in connection.execute(sa.text(f'SELECT CAST(t AS text) FROM "{table}" t'))
        )
