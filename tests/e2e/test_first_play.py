"""A reviewer opens the player for a master that has no preview yet: the page asks the API
for a build (long-polling; the answer grants watching that sha at the edge), and plays as
soon as the first rendition, made by the already-running task worker, exists."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.stack.processes import Service
from dailies.stack.samples import sample_master_args

pytestmark = pytest.mark.slow

VIDEO_TIME = "() => document.querySelector('video').currentTime"
PLAYER_TRACE = "() => window.dailiesPlayer"


def _promoted_master(s3: Any, settings: Any, directory: Path, codec: str) -> str:
    """A short master, staged and promoted as an editor's upload would be. The first
    rendition remuxes H.264 and encodes MPEG-4 part 2, publishing while ffmpeg runs, so the
    player may start on an EVENT playlist that grows while it plays."""
    from tests.preview_fixtures import stage_and_promote

    master = directory / "master.mp4"
    args = sample_master_args(master, seconds=4, size="640x360", tag=uuid.uuid4().hex)
    if codec == "mpeg4":
        args[args.index("libx264") - 1 : args.index("yuv420p") + 1] = ["-c:v", "mpeg4"]
    subprocess.run(args, check=True, timeout=60)
    return stage_and_promote(s3, settings, master)


def _open(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.goto(url)
    return page, console


@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_player_builds_missing_preview_then_plays_from_the_start(
    browser: Any, edge: Service, cpu_worker: Any, task_worker: Any, reviewer_token: str,
    s3: Any, stack: Any, tmp_path: Path, codec: str,
) -> None:  # fmt: skip
    sha = _promoted_master(s3, stack, tmp_path, codec)
    # Nobody watches without a grant, not even a preview that does not exist yet.
    assert httpx.get(f"{edge.url}/previews/{sha}/manifest.m3u8").status_code == 403

    page, console = _open(browser, f"{edge.url}/watch/{sha}#token={reviewer_token}")
    try:
        page.wait_for_function(f"() => ({VIDEO_TIME})() > 1.0", timeout=120_000, polling=200)
    except Exception as exc:
        trace = page.evaluate(PLAYER_TRACE)
        raise AssertionError(f"video never advanced: {trace}\nconsole: {console}") from exc
    trace = page.evaluate(PLAYER_TRACE)
    phases = [event["phase"] for event in trace["events"]]
    assert phases[0] == "requesting", phases  # POST /api/preview first: it grants watching
    assert "playing" in phases, phases
    assert trace["error"] is None
    # The fast path: the player's first manifest is the task worker's first rendition, not
    # the deployment's stream copy or ladder.
    levels = page.evaluate("() => window.dailiesPlayer.hls.levels.map((level) => level.uri)")
    assert levels and all("/first/" in uri for uri in levels), levels
    assert trace["startedAt"] < 0.5, trace  # from the start, not a live edge
    # Started at 0 (not at the live edge of a still-growing playlist) and keeps going.
    before = page.evaluate(VIDEO_TIME)
    page.wait_for_function(f"() => ({VIDEO_TIME})() > {before + 0.5}", timeout=10_000)

    # Once the build finishes the scrub bar gets its storyboard thumbnails.
    # (The ladder's flow run may queue behind runs earlier tests launched on the session's
    # one cpu worker: a generous ceiling, the event itself is what is asserted.)
    page.wait_for_function(
        "() => (window.dailiesPlayer.storyboardCues || 0) > 0", timeout=200_000, polling=500
    )
    page.close()


def test_player_says_why_it_cannot_request_a_preview(
    browser: Any, edge: Service, reviewer_token: str
) -> None:
    unknown = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    cases = {
        f"/watch/{unknown}": "no reviewer token",
        f"/watch/{unknown}#token={reviewer_token}": "No promoted master has this sha256",
        f"/watch/{unknown}#token=dly_not-a-token": "was not accepted",
        f"/watch/not-a-sha#token={reviewer_token}": "not a valid sha256",
    }
    for path, words in cases.items():
        page, console = _open(browser, f"{edge.url}{path}")
        page.wait_for_function("() => window.dailiesPlayer.phase === 'failed'", timeout=15_000)
        text = page.inner_text("#status")
        assert words in text, (path, text, console)
        page.close()
