"""POST /api/preview (the edge's 404 path) and GET /api/preview/{sha}."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.app import create_app
from dailies.clients import session_scope
from dailies.db.models import Preview
from tests.api.conftest import insert_master, serve
from tests.api.prefect_helpers import (
    deployment_id,
    heartbeat,
    read_run,
    runs_for_sha,
)


def row(settings: Any, sha: str) -> Preview:
    with session_scope(settings) as session:
        found = session.get(Preview, sha)
        assert found is not None
        return found


def test_malformed_sha_is_422_and_unknown_master_404(reviewer: httpx.Client) -> None:
    for bad in ("xyz", "g" * 64, "a" * 63, ""):
        response = reviewer.post("/api/preview", json={"sha": bad})
        assert response.status_code == 422 and "sha256" in response.json()["detail"]
    assert reviewer.post("/api/preview", json={}).status_code == 422
    assert reviewer.get("/api/preview/xyz").status_code == 422
    assert reviewer.post("/api/preview", json={"sha": "c" * 64}).status_code == 404
    assert reviewer.get(f"/api/preview/{'c' * 64}").status_code == 404


def test_ready_preview_answers_the_manifest_url(reviewer: httpx.Client, stack: Any) -> None:
    sha = insert_master(stack, {"status": "ready", "manifest_key": "m"})
    response = reviewer.post("/api/preview", json={"sha": sha.upper()})
    assert response.status_code == 200
    url = f"{stack.edge_url}/previews/{sha}/manifest.m3u8"
    body = response.json()
    # With the grant to watch it (tests/security/test_grant_issuing.py checks the grant).
    assert body == {"status": "ready", "manifest_url": url} | {
        "grant": body["grant"],
        "grant_expires_at": body["grant_expires_at"],
    }
    status = reviewer.get(f"/api/preview/{sha}").json()
    assert status["status"] == "ready" and status["manifest_url"] == url
    assert runs_for_sha(sha) == []


def test_first_trigger_queues_one_cpu_run(
    reviewer: httpx.Client, stack: Any, master_sha: str
) -> None:
    assert reviewer.get(f"/api/preview/{master_sha}").json()["status"] == "missing"
    first = reviewer.post("/api/preview", json={"sha": master_sha})
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["status"] == "queued" and body["flow_run_id"]
    assert first.headers["retry-after"] == str(body["retry_after_s"])

    again = reviewer.post("/api/preview", json={"sha": master_sha})
    assert again.status_code == 202 and again.json()["flow_run_id"] == body["flow_run_id"]

    runs = runs_for_sha(master_sha)
    assert [str(r.id) for r in runs] == [body["flow_run_id"]]
    assert runs[0].deployment_id == deployment_id(stack.preview_cpu_deployment)
    assert runs[0].parameters == {"sha256": master_sha, "encoder": "cpu"}
    # Named from birth, not a random name until a worker starts it.
    assert runs[0].name == f"preview-{master_sha[:12]}-cpu"
    stored = row(stack, master_sha)
    assert (stored.status, stored.flow_run_id, stored.attempts) == (
        "queued",
        body["flow_run_id"],
        1,
    )
    status = reviewer.get(f"/api/preview/{master_sha}").json()
    assert status["status"] == "queued" and status["flow_run_id"] == body["flow_run_id"]


def test_gpu_deployment_when_the_gpu_pool_has_a_live_worker(
    api_settings: Any, tokens: dict[str, str], deployments: None
) -> None:
    # A pool of its own, so the live worker does not leak into other tests' choices.
    settings = api_settings.model_copy(update={"gpu_work_pool": "gpu-live-test"})
    heartbeat("gpu-live-test", "fake-gpu-worker")
    sha = insert_master(settings)
    with serve(create_app(settings)) as url:
        headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
        response = httpx.post(f"{url}/api/preview", json={"sha": sha}, headers=headers, timeout=60)
    assert response.status_code == 202
    run = read_run(response.json()["flow_run_id"])
    assert run.deployment_id == deployment_id(settings.preview_gpu_deployment)
    assert run.parameters["encoder"] == "auto"


def _set_pool_paused(pool: str, paused: bool) -> None:
    """Pause or resume a work pool through Prefect's API, as automations/ pause a failing
    gpu pool and an operator resumes it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    async def update() -> None:
        async with get_client() as client:
            await client.update_work_pool(pool, WorkPoolUpdate(is_paused=paused))

    asyncio.run(update())


def test_cpu_deployment_while_the_gpu_pool_is_paused(
    api_settings: Any, tokens: dict[str, str], deployments: None
) -> None:
    """A gpu pool with a live worker, paused: the API launches preview-cpu (a paused pool's
    runs would wait); resumed, the same pool gets preview-gpu again, so the pause, not the
    worker, made the choice. A pool of its own: its live worker must not reach other tests."""
    settings = api_settings.model_copy(update={"gpu_work_pool": "gpu-paused-test"})
    heartbeat("gpu-paused-test", "fake-gpu-worker")
    headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
    launched = {}
    with serve(create_app(settings)) as url:
        for paused in (True, False):
            _set_pool_paused("gpu-paused-test", paused)
            try:
                sha = insert_master(settings)
                response = httpx.post(  # httpx defaults to a 5 s timeout: a failure bound only
                    f"{url}/api/preview", json={"sha": sha}, headers=headers, timeout=60
                )
            finally:
                _set_pool_paused("gpu-paused-test", False)
            assert response.status_code == 202, response.text
            run = read_run(response.json()["flow_run_id"])
            launched[paused] = (run.deployment_id, run.parameters["encoder"])
    assert launched[True] == (deployment_id(settings.preview_cpu_deployment), "cpu")
    assert launched[False] == (deployment_id(settings.preview_gpu_deployment), "auto")


def test_building_preview_reports_progress(reviewer: httpx.Client, stack: Any) -> None:
    sha = insert_master(
        stack, {"status": "building", "progress": 0.4, "flow_run_id": "x", "attempts": 1}
    )
    with session_scope(stack) as session:
        session.get(Preview, sha).updated_at = datetime.now(UTC)  # type: ignore[union-attr]
    status = reviewer.get(f"/api/preview/{sha}").json()
    assert status["status"] == "building" and status["progress"] == pytest.approx(0.4)
    response = reviewer.post("/api/preview", json={"sha": sha})
    assert response.status_code == 202 and response.json()["status"] == "building"


def test_recent_failure_backs_off_then_retries_as_a_new_attempt(
    reviewer: httpx.Client, stack: Any
) -> None:
    now = datetime.now(UTC)
    failed = {"status": "failed", "error": "ffprobe: no video stream", "attempts": 1}
    sha = insert_master(stack, {**failed, "finished_at": now})
    backing_off = reviewer.post("/api/preview", json={"sha": sha})
    assert backing_off.status_code == 202
    body = backing_off.json()
    assert body["status"] == "failed" and body["error"] == "ffprobe: no video stream"
    assert 25 <= body["retry_after_s"] <= 30
    assert runs_for_sha(sha) == []
    status = reviewer.get(f"/api/preview/{sha}").json()
    assert status["status"] == "failed" and status["error"] == "ffprobe: no video stream"

    with session_scope(stack) as session:
        session.get(Preview, sha).finished_at = now - timedelta(minutes=5)  # type: ignore[union-attr]
    retried = reviewer.post("/api/preview", json={"sha": sha})
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    assert [str(r.id) for r in runs_for_sha(sha)] == [retried.json()["flow_run_id"]]
    assert row(stack, sha).attempts == 2


def test_preview_runs_are_not_promotion_runs(editor: httpx.Client, master_sha: str) -> None:
    run_id = editor.post("/api/preview", json={"sha": master_sha}).json()["flow_run_id"]
    assert editor.get(f"/api/promotions/{run_id}").status_code == 404
