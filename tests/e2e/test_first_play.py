"""A reviewer opens the player for a master that has no preview yet: the page asks the API
for a build (long-polling; the answer grants watching that sha at the edge), and plays as
soon as the first rendition, made by the already-running task worker, exists."""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.processes import Service
from ops.samples import sample_master_args

pytestmark = pytest.mark.slow

VIDEO_TIME = "() => document.querySelector('video').currentTime"
# The page's trace without its hls.js instance and controls, which Playwright may fail to
# serialise (the whole trace then reads None), as it did once the page moved to the ladder.
PLAYER_TRACE = """() => {
  const { phase, events, error, startedAt, posterAt, posterUrl, playingAt } = window.dailiesPlayer;
  return { phase, events, error, startedAt, posterAt, posterUrl, playingAt };
}"""


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


@dataclass
class Seen:
    """What a page said on its console and sent over the network, from its first request."""

    console: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)


def _open(browser: Any, url: str) -> tuple[Any, Seen]:
    page = browser.new_page()
    seen = Seen()
    page.on("console", lambda message: seen.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: seen.console.append(f"pageerror: {error}"))
    page.on("request", lambda request: seen.requests.append(request))
    page.goto(url)
    return page, seen


def _api_answers(seen: Seen, sha: str) -> list[dict[str, Any]]:
    """Every answer the page got from POST /api/preview and GET /api/preview/{sha}."""
    answers = []
    for request in seen.requests:
        if re.search(rf"/api/preview(/{sha})?$", request.url) and request.response():
            answers.append(request.response().json())
    return answers


def _words_for(answer: dict[str, Any]) -> str:
    """What the status line must say for an answer about a build under way."""
    progress = answer.get("progress")
    if isinstance(progress, float | int):
        return rf"build.*\b{round(progress * 100)} ?%"
    return r"queued|build"


@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_player_builds_missing_preview_then_plays_from_the_start(
    browser: Any, edge: Service, cpu_worker: Any, task_worker: Any, reviewer_token: str,
    s3: Any, stack: Any, tmp_path: Path, codec: str, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO)  # the API serves in this process: its log is caplog's
    sha = _promoted_master(s3, stack, tmp_path, codec)
    # Nobody watches without a grant, not even a preview that does not exist yet.
    assert httpx.get(f"{edge.url}/previews/{sha}/manifest.m3u8").status_code == 403

    page, seen = _open(browser, f"{edge.url}/watch/{sha}#token={reviewer_token}")
    try:
        page.wait_for_function(f"() => ({VIDEO_TIME})() > 1.0", timeout=120_000, polling=200)
    except Exception as exc:
        trace = page.evaluate(PLAYER_TRACE)
        raise AssertionError(f"video never advanced: {trace}\nconsole: {seen.console}") from exc
    trace = page.evaluate(PLAYER_TRACE)
    phases = [event["phase"] for event in trace["events"]]
    assert phases[0] == "requesting", phases  # POST /api/preview first: it grants watching
    assert "playing" in phases, phases
    assert trace["error"] is None
    # The fast path: the player's first multivariant playlist is the task worker's first
    # rendition, not the deployment's stream copy or ladder.
    levels = page.evaluate("() => window.dailiesPlayer.hls.levels.map((level) => level.uri)")
    assert levels and all("/first/" in uri for uri in levels), levels
    assert trace["startedAt"] < 0.5, trace  # from the start, not a live edge
    # The poster promotion made (the first rendition's first picture) was on screen before
    # the first frame: granted by the first answer, it did not wait for any build.
    assert trace["posterUrl"].endswith(f"/previews/{sha}/first/poster.jpg"), trace
    assert trace["posterAt"] < trace["playingAt"], trace
    # Started at 0 (not at the live edge of a still-growing playlist) and keeps going.
    before = page.evaluate(VIDEO_TIME)
    page.wait_for_function(f"() => ({VIDEO_TIME})() > {before + 0.5}", timeout=10_000)

    # Once the build finishes the scrub bar gets its storyboard thumbnails.
    # (The ladder's flow run may queue behind runs earlier tests launched on the session's
    # one cpu worker: a generous ceiling, the event itself is what is asserted.)
    page.wait_for_function(
        "() => (window.dailiesPlayer.storyboardCues || 0) > 0", timeout=200_000, polling=500
    )
    # The page asks for the preview first, a long poll of 8 s (README, "Player"), and its
    # status beside it (answered at once, with a grant: the poster), nothing under /previews/
    # before them; the documents list goes out beside them.
    opening = list(
        itertools.takewhile(lambda r: "/previews/" not in r.url, seen.requests)
    )  # fmt: skip
    asks = [r for r in opening if (r.method, r.url) == ("POST", f"{edge.url}/api/preview")]
    assert [r.post_data_json for r in asks] == [{"sha": sha, "wait_s": 8}], opening
    assert ("GET", f"{edge.url}/api/preview/{sha}") in [(r.method, r.url) for r in opening]
    # Every answer about a build under way was put into words on the status line. There is
    # at least one: the page played the first rendition, so the ladder was still building.
    building = [a for a in _api_answers(seen, sha) if a["status"] in ("queued", "building")
                and not a.get("playable")]  # fmt: skip
    said = [event["text"] for event in page.evaluate(PLAYER_TRACE)["events"]]
    assert building, said
    for answer in building:
        assert any(re.search(_words_for(answer), text, re.I) for text in said), (answer, said)
    _assert_no_referrer_and_no_token_in_logs(page, seen, edge, sha, reviewer_token, caplog)
    page.close()


def _assert_no_referrer_and_no_token_in_logs(
    page: Any, seen: Seen, edge: Service, sha: str, token: str, caplog: Any
) -> None:
    """The page sets no-referrer, so none of its requests names the page; the token rides
    in the URL fragment, so it is in neither the edge's access log (every request the API
    got, URI and query) nor anything the API logged (caplog)."""
    sent = [r for r in seen.requests if r.url.startswith(edge.url)]
    assert len(sent) > 3 and not [r.url for r in sent if r.header_value("referer")]
    policy = page.evaluate("() => document.querySelector('meta[name=referrer]')?.content")
    assert policy == "no-referrer"
    access_log = Path(edge.extra["access_log"]).read_text()
    assert f"GET /watch/{sha} " in access_log and "POST /api/preview " in access_log
    assert token not in access_log and token not in caplog.text


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
        page, seen = _open(browser, f"{edge.url}{path}")
        page.wait_for_function("() => window.dailiesPlayer.phase === 'failed'", timeout=15_000)
        text = page.inner_text("#status")
        assert words in text, (path, text, seen.console)
        page.close()
