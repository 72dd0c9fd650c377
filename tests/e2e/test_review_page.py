"""The review page as a reviewer uses it, in headless Chromium through the edge: the poster
before play, the master's own SMPTE timecode on the frame seeked to (23.976 and 29.97
drop-frame masters made with ffmpeg -timecode), frame steps of exactly one frame, the
rendition picker, and documents an editor attached.

Which frame is on screen is read from the picture itself: every frame of the generated
masters carries its index as eight black/white columns (bit k = column k), which survive the
ladder's re-encode; the canvas reads them back."""

from __future__ import annotations

import hashlib
import secrets
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.timecode import rate_for, source_timing
from ops.processes import Service

pytestmark = pytest.mark.slow

# rate, start timecode, {frame index: the label an editor's NLE shows for it}
MASTERS = {
    "23.976": ("24000/1001", "01:00:00:00",
               {0: "01:00:00:00", 30: "01:00:01:06", 47: "01:00:01:23"}),
    # 00:01:00;00 and ;01 do not exist in drop-frame: frame 2 is ;02
    "29.97DF": ("30000/1001", "00:00:59;28",
                {0: "00:00:59;28", 2: "00:01:00;02", 40: "00:01:01;10"}),
}  # fmt: skip
SECONDS = 2.5

FRAME_ON_SCREEN = """() => {
  const video = document.querySelector('video');
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0);
  let index = 0;
  for (let bit = 0; bit < 8; bit++) {
    const x = Math.floor((bit + 0.5) * canvas.width / 8);
    const [r, g, b] = ctx.getImageData(x, Math.floor(canvas.height / 2), 1, 1).data;
    if ((r + g + b) / 3 > 128) index |= 1 << bit;
  }
  return index;
}"""
SETTLED = """(frame) => {
  const video = document.querySelector('video');
  return !video.seeking && video.readyState >= 2 &&
    document.getElementById('timecode').dataset.frame === String(frame);
}"""


def make_timecoded_master(path: Path, rate: str, timecode: str) -> None:
    """854x480 (two rungs: 480p, 360p), the frame index drawn as 8 columns, a tmcd track."""
    columns = "if(mod(floor(N/pow(2,floor(X*8/W))),2),235,16)"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"color=c=gray:s=854x480:r={rate}:d={SECONDS},format=yuv420p,"
         f"geq=lum='{columns}':cb=128:cr=128",
         "-f", "lavfi", "-i", f"sine=f=440:d={SECONDS}:r=48000",
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "10", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", "-timecode", timecode,
         "-metadata", f"comment=review-page-{secrets.token_hex(8)}", str(path)],
        check=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def timecoded(deployed: Any, stack: Any, tmp_path_factory: Any) -> dict[str, str]:
    """Both masters promoted and their previews built (before the browser opens: Prefect's
    sync calls and playwright's loop do not share a thread). {name: sha256}."""
    from dailies.clients import s3_client
    from flows.preview import build_preview
    from tests.preview_fixtures import stage_and_promote

    s3 = s3_client(stack)
    folder = tmp_path_factory.mktemp("timecoded")
    preset, stack.x264_preset = stack.x264_preset, "superfast"
    shas = {}
    try:
        for name, (rate, timecode, _) in MASTERS.items():
            master = folder / f"{name}.mov"
            make_timecoded_master(master, rate, timecode)
            shas[name] = stage_and_promote(s3, stack, master)
            result = build_preview(shas[name])
            assert result["status"] == "ready", result
            assert result["start_timecode"] == timecode, result
    finally:
        stack.x264_preset = preset
    return shas


@pytest.fixture(scope="module")
def editor_token(stack: Any) -> str:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    with session_scope(stack) as session:
        return api_keys.create_key(session, "editor", "e2e-documents")[1]


def _open(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_function(
        "() => window.dailiesPlayer && dailiesPlayer.timing && dailiesPlayer.playingAt",
        timeout=60_000,
    )
    return page


def _settle(page: Any, frame: int) -> None:
    try:
        page.wait_for_function(SETTLED, arg=frame, timeout=15_000)
        # The picture of a seek is presented a moment after `seeked`: wait for it to match.
        page.wait_for_function(f"() => ({FRAME_ON_SCREEN})() === {frame}", timeout=5_000)
    except Exception as exc:
        seen = page.evaluate(
            f"() => ({{ onScreen: ({FRAME_ON_SCREEN})(), time: document.querySelector('video')"
            ".currentTime, label: document.getElementById('timecode').textContent, ready:"
            " document.querySelector('video').readyState, seeking: document.querySelector('video')"
            ".seeking, frame: document.getElementById('timecode').dataset.frame, trace:"
            " JSON.stringify({...dailiesPlayer, hls: undefined, controls: undefined}),"
            " level: dailiesPlayer.level, timing: dailiesPlayer.timing })"
        )
        raise AssertionError(f"frame {frame} was asked for; the page shows {seen}") from exc


@pytest.mark.parametrize("name", list(MASTERS))
def test_timecode_on_the_page_matches_the_master_at_the_frame_seeked_to(
    timecoded: dict[str, str], browser: Any, edge: Service, reviewer_token: str, name: str
) -> None:
    rate, start, labels = MASTERS[name]
    page = _open(browser, f"{edge.url}/watch/{timecoded[name]}#token={reviewer_token}")
    try:
        timing = page.evaluate("() => window.dailiesPlayer.timing")
        assert (timing["start_timecode"], timing["frame_rate"]) == (start, rate)
        page.keyboard.press("k")
        for frame, label in labels.items():
            page.evaluate(f"() => window.dailiesPlayer.controls.seekFrame({frame})")
            _settle(page, frame)  # the picture on screen is frame `frame` of the master
            assert page.inner_text("#timecode") == label, (name, frame)
        assert ("DF" in page.inner_text("#frame-rate")) == (";" in start)

        # The page's sums are the Python module's, frame for frame, across a whole day.
        tc_rate = rate_for(Fraction(rate), drop_frame=";" in start)
        frames = [0, 1, 1799, 1800, 17981, 17982, *range(0, tc_rate.frames_per_day, 997)]
        in_page = page.evaluate(
            "([t, frames]) => { const r = DailiesTimecode.rateOf(t);"
            " return frames.map((f) => DailiesTimecode.label(f, r)); }",
            [timing, frames],
        )
        expected = source_timing(start, Fraction(rate))
        assert in_page == [expected.label_at(f - expected.start_frame) for f in frames]
    finally:
        page.close()


def test_frame_step_moves_exactly_one_frame(
    timecoded: dict[str, str], browser: Any, edge: Service, reviewer_token: str
) -> None:
    rate, start, _ = MASTERS["29.97DF"]
    timing = source_timing(start, Fraction(rate))
    page = _open(browser, f"{edge.url}/watch/{timecoded['29.97DF']}#token={reviewer_token}")
    try:
        page.keyboard.press("k")  # stop, as a reviewer does before stepping
        page.evaluate("() => window.dailiesPlayer.controls.seekFrame(10)")
        _settle(page, 10)
        for key, frame in [("ArrowRight", 11), ("ArrowRight", 12), ("ArrowLeft", 11),
                           ("ArrowLeft", 10), ("ArrowLeft", 9)]:  # fmt: skip
            page.keyboard.press(key)
            _settle(page, frame)
            assert page.inner_text("#timecode") == timing.label_at(frame)
        assert page.evaluate("() => document.querySelector('video').paused")
        page.keyboard.press("?")
        assert page.is_visible("#help") and "J" in page.inner_text("#help")
    finally:
        page.close()


def test_poster_shows_before_play_and_no_native_controls(
    timecoded: dict[str, str], browser: Any, edge: Service, reviewer_token: str
) -> None:
    page = _open(browser, f"{edge.url}/watch/{timecoded['23.976']}#token={reviewer_token}")
    try:
        page.wait_for_function("() => window.dailiesPlayer.playingAt", timeout=30_000)
        trace = page.evaluate(
            "() => ({ posterAt: dailiesPlayer.posterAt, playingAt: dailiesPlayer.playingAt,"
            " poster: document.querySelector('video').poster,"
            " controls: document.querySelector('video').controls })"
        )
        assert trace["posterAt"] and trace["posterAt"] <= trace["playingAt"], trace
        assert trace["poster"].endswith(f"/previews/{timecoded['23.976']}/poster.jpg")
        assert trace["controls"] is False  # one set of controls: the page's own
        assert page.locator("#scrub").count() == 1
    finally:
        page.close()


def test_rendition_picker_switches(
    timecoded: dict[str, str], browser: Any, edge: Service, reviewer_token: str
) -> None:
    page = _open(browser, f"{edge.url}/watch/{timecoded['23.976']}#token={reviewer_token}")
    try:
        options = page.eval_on_selector_all("#rendition option", "(els) => els.map(e => e.text)")
        heights = page.evaluate("() => dailiesPlayer.hls.levels.map((l) => l.height)")
        assert options[0].startswith("auto") and len(options) == len(heights) + 1 >= 3, options
        for index, height in enumerate(heights):
            page.keyboard.press("k")  # a 2.5 s clip: from its start, to see the switch play
            page.keyboard.press("Home")
            page.select_option("#rendition", str(index))
            page.keyboard.press("l")
            try:
                page.wait_for_function(
                    f"() => dailiesPlayer.level === {index} &&"
                    f" document.querySelector('video').videoHeight === {height}",
                    timeout=20_000,
                )
            except Exception as exc:
                seen = page.evaluate(
                    "() => [dailiesPlayer.level, dailiesPlayer.hls.currentLevel,"
                    " document.querySelector('video').videoHeight,"
                    " document.querySelector('video').currentTime]"
                )
                raise AssertionError(f"asked for level {index} ({height}p): {seen}") from exc
        page.select_option("#rendition", "-1")
        assert page.evaluate("() => dailiesPlayer.hls.autoLevelEnabled")
    finally:
        page.close()


def test_document_opens_for_a_reviewer_and_not_without_a_token(
    timecoded: dict[str, str], browser: Any, edge: Service, reviewer_token: str,
    editor_token: str, stack: Any,
) -> None:  # fmt: skip
    from dailies.clients import session_scope
    from dailies.db.models import Asset

    sha = timecoded["23.976"]
    asset_id = f"SHOT_{secrets.token_hex(3)}"
    with session_scope(stack) as session:
        session.add(Asset(asset_id=asset_id, master_sha256=sha, attributes={}))
    text = f"CALL SHEET day 12 {secrets.token_hex(8)}\n".encode()
    editor = httpx.Client(base_url=edge.url, headers={"Authorization": f"Bearer {editor_token}"})
    with editor:
        body = {
            "filename": "call-sheet.txt",
            "size_bytes": len(text),
            "content_type": "text/plain",
            "sha256": hashlib.sha256(text).hexdigest(),
        }
        upload = editor.post(f"/api/assets/{asset_id}/documents", json=body).json()
        assert httpx.put(upload["url"], content=text, headers=upload["headers"]).status_code == 200
        done = editor.post(f"/api/documents/{upload['document_id']}/complete")
        assert done.status_code == 200, done.text

    page = _open(browser, f"{edge.url}/watch/{sha}#token={reviewer_token}")
    try:
        link = page.locator(f"#documents button[data-document-id='{upload['document_id']}']")
        link.wait_for(state="visible", timeout=15_000)
        with page.expect_popup() as popup_info:
            link.click()
        popup = popup_info.value
        # The tab opens on the click; the presigned URL follows the API's answer.
        popup.wait_for_url(lambda url: url.startswith("http"), timeout=15_000)
        popup.wait_for_load_state()
        assert text.decode().strip() in popup.inner_text("body")
        popup.close()
    finally:
        page.close()

    anonymous = browser.new_page()
    try:
        anonymous.goto(f"{edge.url}/watch/{sha}")
        anonymous.wait_for_function("() => window.dailiesPlayer.phase === 'failed'")
        assert not anonymous.is_visible("#documents")
        answers = anonymous.evaluate(
            "(id) => Promise.all([fetch(`/api/documents/${id}`), fetch("
            "`/api/documents/${id}`, { headers: { Authorization: 'Bearer dly_forged' } })])"
            ".then((rs) => rs.map((r) => r.status))",
            upload["document_id"],
        )
        assert answers == [401, 401]
    finally:
        anonymous.close()
