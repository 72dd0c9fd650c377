"""The first rendition through real processes: the API under uvicorn submits it to a running
`prefect task serve` (tests/conftest.py's task_worker), the `build-preview` deployment runs
on a real `prefect worker` as the backstop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterTags,
)
from prefect.client.schemas.objects import TaskRun

from dailies import runs
from dailies.clients import s3_client
from dailies.media.playlists import parse_media_playlist
from tests import preview_fixtures as media
from tests.api.prefect_helpers import runs_for_sha
from tests.api.test_single_flight import assert_one_run, burst
from tests.faults.flaky_s3 import FlakyS3

pytestmark = pytest.mark.slow

T = TypeVar("T")


def first_rendition_runs(sha: str) -> list[TaskRun]:
    """The master's first-rendition task runs, found as ops find them: by its sha tag."""

    async def read() -> list[TaskRun]:
        async with get_client() as client:
            tagged = TaskRunFilterTags(all_=[runs.sha_tag(sha)])
            return await client.read_task_runs(task_run_filter=TaskRunFilter(tags=tagged))

    return asyncio.run(read())


def first_rendition_link(flow_run_id: str, sha: str) -> str | None:
    """The markdown of the ladder run's link to the first rendition, if it has one."""

    async def read() -> str | None:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[f"first-rendition-{sha[:16]}"])
                ),
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])),
            )
            return str(found[0].data) if found else None

    return asyncio.run(read())


def eventually(what: str, check: Callable[[], T | None], timeout_s: float, every_s: float) -> T:
    deadline = time.monotonic() + timeout_s
    while (found := check()) is None or found is False:
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(every_s)
    return found


def _text(stack: Any, key: str) -> str | None:
    s3 = s3_client(stack)
    try:
        return str(s3.get_object(Bucket=stack.previews_bucket, Key=key)["Body"].read().decode())
    except s3.exceptions.NoSuchKey:
        return None


def _uris(playlist_text: str) -> list[str]:
    """Every URI a playlist points at: plain lines and URI="…" attributes."""
    uris = [line for line in playlist_text.splitlines() if line and not line.startswith("#")]
    for line in playlist_text.splitlines():
        if 'URI="' in line:
            uris.append(line.split('URI="')[1].split('"')[0])
    return uris


@pytest.fixture
def api(e2e_api: str, reviewer_token: str) -> Any:
    with httpx.Client(
        base_url=e2e_api, headers={"Authorization": f"Bearer {reviewer_token}"}, timeout=60
    ) as client:
        yield client


def test_trigger_plays_the_first_rendition_from_the_task_worker(
    task_worker: Any, api: httpx.Client, s3: Any, stack: Any, tmp_path: Path
) -> None:
    path = media.make_prores_hq(tmp_path / "prores.mov", seconds=2, size="640x360")
    sha = media.stage_and_promote(s3, stack, path)

    def playable() -> bool:
        """Ask as the player does (wait_s 8, the server's cap here), again while not yet."""
        response = api.post("/api/preview", json={"sha": sha, "wait_s": 8})
        assert response.status_code == 202, response.text
        return response.json().get("playable") is True

    # Within the first long poll on a quiet box; a loaded one may need the player's next.
    eventually("the API answers playable", playable, 120, 0)
    multivariant = _text(stack, f"{sha}/manifest.m3u8")
    assert multivariant is not None and "first/index.m3u8" in _uris(multivariant), multivariant

    def completed() -> TaskRun | None:
        runs = first_rendition_runs(sha)
        assert len(runs) <= 1, runs
        return runs[0] if runs and runs[0].state and runs[0].state.is_completed() else None

    run = eventually("the first-rendition task run completes", completed, 60, 0.3)
    assert run.name == f"first-rendition-{sha[:12]}-1"  # one name per attempt
    assert set(run.tags) == {"preview", runs.sha_tag(sha)}
    assert run.flow_run_id is None  # a background task run, not part of the preview flow
    # ...so the ladder's run links to it: ops reach one from the other.
    (ladder,) = runs_for_sha(sha)
    link = eventually("the link", lambda: first_rendition_link(str(ladder.id), sha), 30, 0.3)
    assert f"/runs/task-run/{run.id})" in link, link
    playlist = parse_media_playlist(_text(stack, f"{sha}/first/index.m3u8") or "")
    assert playlist.ended and len(playlist.segments) >= 2


def test_a_killed_task_worker_costs_speed_not_the_preview(
    task_worker: Any, cpu_worker: Any, api: httpx.Client, s3: Any, stack: Any, tmp_path: Path
) -> None:
    """SIGKILL mid-publish leaves `first/` half-written; the deployment still makes the
    preview ready, and its multivariant playlist points only at complete ladder playlists.

    "Mid-publish" is made certain, not raced: the task worker's S3 goes through a proxy that
    holds the answer to its first segment PUT (the segment is stored, the publisher waits),
    so it cannot finish before the kill however fast ffmpeg runs or slow this test is."""
    path = media.make_prores_hq(tmp_path / "long.mov", seconds=6, size="640x360")
    sha = media.stage_and_promote(s3, stack, path)
    bucket = stack.previews_bucket
    proxy = FlakyS3(stack.s3_endpoint_url)
    segment_put = proxy.hold(
        lambda method, path, _: method == "PUT" and f"/{sha}/first/" in path and ".m4s" in path,
        answered=True,
    )
    try:
        task_worker.restart(AWS_ENDPOINT_URL_S3=proxy.url)
        assert api.post("/api/preview", json={"sha": sha}).status_code == 202
        assert segment_put.wait(120), "the first rendition never published a segment"
        task_worker.kill()
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{sha}/first/")
        assert any(o["Key"].endswith(".m4s") for o in listed.get("Contents", [])), listed
        partial = _text(stack, f"{sha}/first/index.m3u8")
        assert partial is None or "#EXT-X-ENDLIST" not in partial, partial
    finally:
        proxy.close()
        task_worker.restart()

    def ready() -> dict[str, Any] | None:
        status = api.get(f"/api/preview/{sha}").json()
        assert status["status"] != "failed", status
        return status if status["status"] == "ready" else None

    eventually("the deployment makes the preview ready", ready, 240, 1.0)
    multivariant = _text(stack, f"{sha}/manifest.m3u8") or ""
    referenced = _uris(multivariant)
    assert referenced and not any(uri.startswith("first/") for uri in referenced), multivariant
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{sha}/")
    keys = {o["Key"] for o in listed["Contents"]}
    for uri in referenced:
        playlist = parse_media_playlist(_text(stack, f"{sha}/{uri}") or "")
        assert playlist.ended and playlist.playlist_type == "VOD", uri
        folder = uri.rsplit("/", 1)[0]
        wanted = [s.uri for s in playlist.segments] + [playlist.map_uri or ""]
        missing = {f"{sha}/{folder}/{u}" for u in wanted if u} - keys
        assert not missing, missing


def test_a_trigger_storm_makes_one_flow_run_and_one_first_rendition(
    task_worker: Any, e2e_api: str, reviewer_token: str, s3: Any, stack: Any, tmp_path: Path
) -> None:
    path = media.make_h264_moov_at_end(tmp_path / "storm.mov", seconds=1, size="320x240")
    sha = media.stage_and_promote(s3, stack, path)
    responses = burst(e2e_api, reviewer_token, sha, 500)
    assert_one_run(responses, sha)

    def finished() -> list[TaskRun] | None:
        runs = first_rendition_runs(sha)
        return runs if runs and all(r.state and r.state.is_final() for r in runs) else None

    runs = eventually("the first rendition finishes", finished, 60, 0.3)
    assert len(runs) == 1 and runs[0].state and runs[0].state.is_completed(), runs
    assert len(runs_for_sha(sha)) == 1
