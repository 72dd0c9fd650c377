"""The frame on screen survives what happens around it (issue 26): End on a master whose audio
runs past its last picture, a rendition picked while paused, and the switch from the fast
first rendition to the finished ladder, ended or paused. And a build that stops moving is
asked for again (issue 23 item 4). And every frame stepped through on the first rendition
shows its own picture and label. Headless Chromium through the edge and the real API; the
frame is read from the picture (the burned-in index, FRAME_ON_SCREEN), never from the label
alone.

The switch to the ladder is staged from what the pipeline itself wrote: the first rendition
(published by its task) and the ladder (the preview flow) are both built, then the bucket's
multivariant playlist and timing.json are set back to the first rendition's and the row to
`building`, as they were while the ladder ran; the test publishes the ladder's again when the
page is where it wants it (played to its end, or paused on a frame), so nothing races."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.timecode import source_timing
from ops.processes import Service
from tests.e2e.test_review_page import (
    FRAME_ON_SCREEN,
    MASTERS,
    PICTURE_AND_LABEL_SETTLED,
    _open,
    _settle,
    frames_in,
    make_timecoded_master,
    step_through_every_frame,
)

pytestmark = pytest.mark.slow

RATE, START, _ = MASTERS["29.97DF"]
TIMING = source_timing(START, Fraction(RATE))
LEVEL_URIS = "() => dailiesPlayer.hls.levels.map((l) => l.uri || l.url)"


@dataclass(frozen=True)
class Built:
    sha: str
    frames: int


def _promote(stack: Any, path: Path) -> str:
    from dailies.clients import s3_client
    from tests.preview_fixtures import stage_and_promote

    return stage_and_promote(s3_client(stack), stack, path)  # type: ignore[no-any-return]


def _build(stack: Any, sha: str) -> None:
    from flows.preview import build_preview

    preset, stack.x264_preset = stack.x264_preset, "superfast"
    try:
        assert build_preview(sha)["status"] == "ready"
    finally:
        stack.x264_preset = preset


@pytest.fixture(scope="module")
def long_audio(deployed: Any, stack: Any, tmp_path_factory: Any) -> Built:
    """2.5 s of pictures, 3.5 s of sound: the media runs a second past the last picture."""
    path = tmp_path_factory.mktemp("long-audio") / "long-audio.mov"
    make_timecoded_master(path, RATE, START, audio_s=3.5)
    sha = _promote(stack, path)
    _build(stack, sha)
    return Built(sha, frames_in(path))


@dataclass(frozen=True)
class Staged:
    """A master built both ways, with what each way left in the bucket."""

    sha: str
    frames: int
    first: dict[str, str]  # key -> text: the first rendition's multivariant and timing.json
    ladder: dict[str, str]  # the same keys, as the ladder left them


@pytest.fixture(scope="module")
def first_then_ladder(deployed: Any, stack: Any, tmp_path_factory: Any) -> Staged:
    """The first rendition remuxes this master (no B-frames: its first picture near 0), the
    ladder re-encodes it with B-frames (its first picture a frame or two later on the clock)."""
    from dailies.clients import s3_client
    from dailies.previews.layout import timing_key
    from tasks.first_rendition import publish_first_rendition

    path = tmp_path_factory.mktemp("first-then-ladder") / "first.mov"
    make_timecoded_master(path, RATE, START)
    sha = _promote(stack, path)
    s3 = s3_client(stack)
    keys = [f"{sha}/manifest.m3u8", timing_key(sha)]

    def texts() -> dict[str, str]:
        return {
            key: s3.get_object(Bucket=stack.previews_bucket, Key=key)["Body"].read().decode()
            for key in keys
        }

    assert publish_first_rendition(sha)["status"] == "published"
    first = texts()
    assert "first/index.m3u8" in first[keys[0]], first
    _build(stack, sha)
    ladder = texts()
    starts = json.loads(ladder[keys[1]])["video_start_s"]
    first_start = json.loads(first[keys[1]])["video_start_s"]["first"]
    # What makes a switch by time land on another frame: the ladder's pictures sit more than
    # half a frame later on the media clock than the first rendition's.
    fps = float(Fraction(RATE))
    assert all((s - first_start) * fps > 0.5 for s in starts.values()), (first_start, starts)
    return Staged(sha, frames_in(path), first, ladder)


def _publish(stack: Any, objects: dict[str, str]) -> None:
    from dailies.clients import s3_client
    from dailies.storage.previews import upload_preview_text

    for key, text in objects.items():
        upload_preview_text(s3_client(stack), stack, key, text, final=False)


def _set_row(stack: Any, sha: str, status: str, progress: float) -> None:
    from dailies.clients import session_scope
    from dailies.db.models import Preview

    with session_scope(stack) as session:
        row = session.get(Preview, sha)
        assert row is not None
        row.status, row.progress, row.updated_at = status, progress, datetime.now(UTC)


@pytest.fixture
def while_building(stack: Any, edge: Service, first_then_ladder: Staged) -> Iterator[Staged]:
    """The bucket and the row as they were while the ladder ran; finished again after. Only
    once the edge serves them: it keeps a playlist it fetched for a second (its playlist TTL),
    and a page opened within that second of an earlier test's ladder got the ladder."""
    from tests.grants import GrantAuth

    staged = first_then_ladder
    _publish(stack, staged.first)
    _set_row(stack, staged.sha, "building", 0.5)
    deadline = time.monotonic() + 15
    with httpx.Client(base_url=edge.url, auth=GrantAuth(stack), timeout=10) as client:
        while (served := {k: client.get(f"/previews/{k}").text for k in staged.first}) != (
            staged.first
        ):
            assert time.monotonic() < deadline, served  # 15 s: the TTL is a second
            time.sleep(0.1)
    yield staged
    _publish(stack, staged.ladder)
    _set_row(stack, staged.sha, "ready", 1.0)


def _settled(page: Any, what: str) -> dict[str, Any]:
    """Paused, the picture and the label agreeing on five animation frames in a row."""
    page.evaluate("() => { window.agreeing = 0; }")
    try:
        return page.wait_for_function(PICTURE_AND_LABEL_SETTLED, timeout=15_000).json_value()  # type: ignore[no-any-return]
    except Exception as exc:
        seen = page.evaluate(
            f"() => ({{ picture: ({FRAME_ON_SCREEN})(), label: document.getElementById("
            "'timecode').dataset.frame, time: document.querySelector('video').currentTime,"
            " paused: document.querySelector('video').paused, upgraded: dailiesPlayer.upgraded,"
            " seeking: document.querySelector('video').seeking, ready: document.querySelector("
            "'video').readyState, duration: document.querySelector('video').duration, buffered:"
            " Array.from({ length: document.querySelector('video').buffered.length }, (_, i) =>"
            " [document.querySelector('video').buffered.start(i),"
            " document.querySelector('video').buffered.end(i)]) })"
        )
        raise AssertionError(f"{what}: never settled; the page shows {seen}") from exc


def test_end_shows_the_last_picture_when_the_audio_runs_longer(
    long_audio: Built, browser: Any, edge: Service, reviewer_token: str
) -> None:
    """Issue 26: End took the media's length (the audio's, a second longer) for the video's
    and labelled a frame that does not exist; the picture stayed where it was."""
    last = long_audio.frames - 1
    page = _open(browser, f"{edge.url}/watch/{long_audio.sha}#token={reviewer_token}")
    try:
        assert page.evaluate("() => document.querySelector('video').duration") > (last + 20) / (
            30000 / 1001
        )  # the media is the audio's length: what End mistook for the video's
        page.keyboard.press("k")
        page.evaluate("() => window.dailiesPlayer.controls.seekFrame(5)")
        _settle(page, 5)
        page.keyboard.press("End")
        seen = _settled(page, "End")
        assert (seen["frame"], seen["picture"]) == (last, last), seen
        assert seen["text"] == TIMING.label_at(last)
        assert page.get_by_role("slider", name="Position").get_attribute("aria-valuemax") == str(
            last
        )
        page.keyboard.press("ArrowRight")  # nothing after the last picture
        _settle(page, last)
        page.keyboard.press("ArrowLeft")
        _settle(page, last - 1)
        assert page.inner_text("#timecode") == TIMING.label_at(last - 1)
        # From a playing picture too, and on the other rendition.
        page.select_option("#rendition", "1")
        page.keyboard.press("Home")
        page.keyboard.press("l")
        page.wait_for_function("() => !document.querySelector('video').paused")
        page.keyboard.press("End")
        seen = _settled(page, "End while playing")
        assert (seen["frame"], seen["picture"]) == (last, last), seen
    finally:
        page.close()


def test_end_pressed_at_once_shows_the_last_picture(
    long_audio: Built, browser: Any, edge: Service, reviewer_token: str
) -> None:
    """End pressed as soon as the page plays (paused first): hls.js had not ended the stream yet
    (it does so only after its first audio-track switch completes, on a tick that finds the
    media not seeking), the decoder held the B-frame encode's last picture for that end, and
    the seek never ended, the picture left on the first frames. It hung in about three of four
    opens; three opens here. stream-end.js now ends the stream for a seek that waits on it."""
    last = long_audio.frames - 1
    for _ in range(3):
        page = _open(browser, f"{edge.url}/watch/{long_audio.sha}#token={reviewer_token}")
        try:
            page.keyboard.press("k")
            page.keyboard.press("End")
            seen = _settled(page, "End at once")
            assert (seen["frame"], seen["picture"]) == (last, last), seen
            assert seen["text"] == TIMING.label_at(last)
        finally:
            page.close()


def test_a_rendition_picked_while_paused_shows_the_same_frame_in_it(
    long_audio: Built, browser: Any, edge: Service, reviewer_token: str
) -> None:
    """Issue 26: a rendition picked while paused changed nothing on screen (the element keeps
    the old rendition's picture until a seek), so the picture was not the rendition named.
    Now each pick shows that rendition's picture (its height) of the same frame, by its own
    clock."""
    page = _open(browser, f"{edge.url}/watch/{long_audio.sha}#token={reviewer_token}")
    try:
        heights = page.evaluate("() => dailiesPlayer.hls.levels.map((l) => l.height)")
        assert len(heights) >= 2, heights
        page.keyboard.press("k")
        for frame in (40, 17, long_audio.frames - 1):
            page.evaluate(f"() => window.dailiesPlayer.controls.seekFrame({frame})")
            _settle(page, frame)
            for index in [*range(len(heights)), 0]:
                page.select_option("#rendition", str(index))
                try:
                    page.wait_for_function(
                        "(h) => document.querySelector('video').videoHeight === h",
                        arg=heights[index], timeout=15_000,
                    )  # fmt: skip
                except Exception as exc:
                    shown = page.evaluate("() => document.querySelector('video').videoHeight")
                    raise AssertionError(
                        f"{heights[index]}p picked at frame {frame}: {shown}p still on screen"
                    ) from exc
                seen = _settled(page, f"{heights[index]}p at frame {frame}")
                assert (seen["frame"], seen["picture"]) == (frame, frame), (index, seen)
                assert seen["text"] == TIMING.label_at(frame)
    finally:
        page.close()


@pytest.mark.parametrize("where", ["ended", "paused"])
def test_the_switch_to_the_ladder_keeps_the_frame_on_screen(
    while_building: Staged, browser: Any, edge: Service, reviewer_token: str, stack: Any,
    where: str,
) -> None:  # fmt: skip
    """Issue 26: switching to the ladder after the clip ended jumped to 0 and showed frame 2
    labelled 0. The ladder's pictures sit later on the media clock than the first
    rendition's, so a switch by time lands a frame off: the frame on screen is kept, paused
    as it was. An ended clip keeps its last picture until the reviewer moves, and the switch
    lands where they went: a fresh ladder stream left a seek to its last pictures waiting
    for good in Chromium (hls.js had not ended the stream, and a B-frame decoder holds its
    last pictures until then)."""
    staged = while_building
    last = staged.frames - 1
    page = _open(browser, f"{edge.url}/watch/{staged.sha}#token={reviewer_token}")
    try:
        levels = page.evaluate(LEVEL_URIS)
        assert levels and all("/first/" in uri for uri in levels), levels
        if where == "ended":  # played to its end, as a reviewer leaves it
            page.wait_for_function(
                "() => document.querySelector('video').ended ||"
                " (document.querySelector('video').paused && dailiesPlayer.frame > 60)",
                timeout=30_000,
            )
            frame = last
        else:
            page.keyboard.press("k")
            frame = 40
            page.evaluate(f"() => window.dailiesPlayer.controls.seekFrame({frame})")
        seen = _settled(page, f"first rendition, {where}")
        assert (seen["frame"], seen["picture"]) == (frame, frame), seen

        _publish(stack, staged.ladder)
        _set_row(stack, staged.sha, "ready", 1.0)
        if where == "ended":
            # The ended clip stays on its last picture, labelled so, until the reviewer moves
            # (a new stream could not show the ladder's last pictures: below); then the
            # switch lands where they went.
            page.wait_for_function("() => dailiesPlayer.waitingToSwitch === true", timeout=30_000)
            seen = _settled(page, "first rendition, the ladder ready")
            assert (seen["frame"], seen["picture"]) == (frame, frame), seen
            assert all("/first/" in uri for uri in page.evaluate(LEVEL_URIS))
            page.keyboard.press("Shift+ArrowLeft")  # a second back
            frame -= 30
        page.wait_for_function("() => dailiesPlayer.upgraded === true", timeout=30_000)
        levels = page.evaluate(LEVEL_URIS)
        assert levels and not any("/first/" in uri for uri in levels), levels
        seen = _settled(page, f"ladder, {where}")
        assert (seen["frame"], seen["picture"]) == (frame, frame), seen
        assert seen["text"] == TIMING.label_at(frame)
        # → and ← move the picture and the label together, on the ladder's clock.
        page.keyboard.press("ArrowLeft")
        _settle(page, frame - 1)
        assert page.inner_text("#timecode") == TIMING.label_at(frame - 1)
    finally:
        page.close()


def test_every_frame_stepped_on_the_first_rendition_shows_its_own_picture_and_label(
    while_building: Staged, browser: Any, edge: Service, reviewer_token: str,
    record_property: Any,
) -> None:  # fmt: skip
    """Issue 26's done-when on the other path a reviewer meets: the page playing the first
    rendition (a remux, its first picture at its own place on the clock) while the ladder is
    built. → from the first to the last picture of the 29.97 DF master: each shows its own
    picture and label (test_review_page.py does the ladder at 23.976, 25 and 29.97 DF)."""
    staged = while_building
    page = _open(browser, f"{edge.url}/watch/{staged.sha}#token={reviewer_token}")
    try:
        levels = page.evaluate(LEVEL_URIS)
        assert levels and all("/first/" in uri for uri in levels), levels
        checked = step_through_every_frame(page, TIMING, staged.frames, "29.97DF first rendition")
        record_property("frames_checked", checked)
        assert checked == staged.frames
        assert all("/first/" in uri for uri in page.evaluate(LEVEL_URIS))  # never upgraded
    finally:
        page.close()


def test_a_build_that_stops_moving_is_asked_for_again(
    while_building: Staged, browser: Any, edge: Service, reviewer_token: str
) -> None:
    """Issue 23 item 4: the page only ever read the status while a build ran, so a build
    whose worker was lost waited for someone else to ask. Now, when the status and progress
    have not moved for a minute (STALL_S in player.js), it asks again (POST /api/preview),
    once, and goes on following. The minute is the page's own clock, fast-forwarded by
    Playwright (the row here stands still at 50 % for real); nothing in the page changes
    for the test."""
    sha = while_building.sha
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.clock.install()  # time flows as usual until fast_forward jumps it
    page = context.new_page()
    posts: list[Any] = []

    def is_ask(request: Any) -> bool:
        return (request.method, request.url) == ("POST", f"{edge.url}/api/preview")

    def is_poll(request: Any) -> bool:
        return (request.method, request.url) == ("GET", f"{edge.url}/api/preview/{sha}")

    page.on("request", lambda request: posts.append(request) if is_ask(request) else None)
    try:
        with page.expect_request(is_poll, timeout=60_000):
            page.goto(f"{edge.url}/watch/{sha}#token={reviewer_token}")
        page.wait_for_function("() => window.dailiesPlayer && dailiesPlayer.playingAt")
        with page.expect_request(is_poll, timeout=15_000):  # following, every 2 s
            pass
        assert [p.post_data_json for p in posts] == [{"sha": sha, "wait_s": 8}]  # the opening
        assert page.evaluate("() => dailiesPlayer.askedAgain") is None

        with page.expect_request(is_ask, timeout=15_000) as asked:
            page.clock.fast_forward("01:01")
        assert asked.value.post_data_json == {"sha": sha}
        answer = asked.value.response()
        assert answer is not None and answer.status == 202, answer
        assert answer.json()["status"] == "building"
        # ...and goes on following, without asking again on the next poll.
        with page.expect_request(is_poll, timeout=15_000):
            pass
        with page.expect_request(is_poll, timeout=15_000):
            pass
        assert page.evaluate("() => dailiesPlayer.askedAgain") == 1
        assert len(posts) == 2, [p.post_data_json for p in posts]
        said = page.evaluate("() => dailiesPlayer.events.map((e) => e.text)")
        assert any("has not moved for 60 s" in text for text in said), said
    finally:
        context.close()
