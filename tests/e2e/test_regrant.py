"""A grant that expires while a reviewer watches: the edge answers the next segment 403, and
the player (edge/player/player.js) asks the API for a new grant and plays on from where it
was. In headless Chromium through the real edge and API, on a ready preview published to
the bucket (ffmpeg's HLS of a 60 s master: longer than hls.js buffers ahead, so a seek past
the buffer must fetch segments under the expired grant)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dailies.grant_rules import COOKIE_NAME
from ops.edge import PLAYER_DIR
from ops.processes import Service
from tests.api.conftest import insert_master
from tests.grants import grant_for

pytestmark = pytest.mark.slow

SECONDS = 120
SEEK_TO = 45.0  # at least: beyond hls.js's 30 s forward buffer from the start
TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment"}


def _publish_ready_preview(s3: Any, settings: Any, directory: Path) -> str:
    """A masters row whose preview is ready, and its HLS (1 s fMP4 segments) in the bucket."""
    sha = insert_master(settings, {"status": "ready", "manifest_key": "manifest.m3u8"})
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=320x180:r=10:d={SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10",
         "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
         "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
         "-hls_segment_filename", str(directory / "seg-%05d.m4s"),
         str(directory / "manifest.m3u8")],
        check=True, timeout=120,
    )  # fmt: skip
    for path in directory.iterdir():
        content_type = TYPES.get(path.suffix, "video/mp4")
        s3.put_object(
            Bucket=settings.previews_bucket,
            Key=f"{sha}/{path.name}",
            Body=path.read_bytes(),
            ContentType=content_type,
        )
    return sha


def _access_log_from(edge: Service, offset: int) -> list[tuple[str, str, int]]:
    """(method, path, status) of every request the edge logged after `offset` bytes."""
    text = Path(edge.extra["access_log"]).read_text()[offset:]
    found = re.findall(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) ', text)
    return [(method, target.split("?")[0], int(status)) for method, target, status in found]


def test_a_grant_that_expires_mid_play_is_renewed_and_playback_goes_on(
    browser: Any, edge: Service, e2e_settings: Any, reviewer_token: str, s3: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    if not (PLAYER_DIR / "vendor" / "hls.min.js").exists():
        pytest.fail("hls.js is not vendored: bash scripts/vendor-hlsjs.sh (or make sync)")
    sha = _publish_ready_preview(s3, e2e_settings, tmp_path)
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        page.goto(f"{edge.url}/watch/{sha}#token={reviewer_token}")
        page.wait_for_function(
            "() => document.querySelector('video').currentTime > 0.5", timeout=60_000
        )

        # The grant lapses while watching: the browser now holds an expired one.
        expired = grant_for(e2e_settings, sha, ttl_s=10, now=time.time() - 11)
        page.context.add_cookies(
            [{"name": COOKIE_NAME, "value": expired, "url": f"{edge.url}/previews/{sha}/"}]
        )
        log_offset = Path(edge.extra["access_log"]).stat().st_size
        # Past whatever hls.js has buffered by now (on a loaded box playback may be well in,
        # its buffer 30 s beyond) and past every segment the browser has asked for (its HTTP
        # cache would answer those without the edge): the next segment must be fetched from
        # the edge with the lapsed grant.
        asked = [
            int(found.group(1))
            for _, path, _ in _access_log_from(edge, 0)
            if (found := re.match(rf"^/previews/{sha}/seg-(\d+)\.m4s$", path))
        ]
        beyond = max(asked, default=0) + 1  # seg-N holds seconds N..N+1
        target = page.evaluate(
            f"""() => {{
                const video = document.querySelector('video');
                const buffered = video.buffered;
                const end = buffered.length ? buffered.end(buffered.length - 1) : 0;
                video.currentTime = Math.max({SEEK_TO}, Math.ceil(end) + 3, {beyond} + 3);
                return video.currentTime;
            }}"""
        )
        assert target < SECONDS - 5, target
        page.wait_for_function(
            f"() => document.querySelector('video').currentTime > {target + 1}",
            timeout=60_000,
            polling=200,
        )
    except Exception as exc:
        trace = page.evaluate("() => window.dailiesPlayer")
        raise AssertionError(f"playback did not go on: {trace}\nconsole: {console}") from exc
    finally:
        trace = page.evaluate("() => window.dailiesPlayer")
        page.close()
    assert trace["error"] is None, trace

    # What the edge saw after the grant lapsed: a segment refused (403), a new grant asked
    # for, then segments served again.
    seen = _access_log_from(edge, log_offset)
    segment = re.compile(rf"^/previews/{sha}/seg-\d+\.m4s$")
    refused = next((i for i, (_, path, status) in enumerate(seen) if status == 403), None)
    if refused is None:
        # The player renewed before the edge had refused anything (its timer, or a page step
        # that asks the API): no stall either way, but then that was the first thing it did,
        # and everything after it was served. Which step asked is in the trace's events.
        said = f"{seen}\nevents: {trace.get('events')}"
        assert seen and seen[0] == ("POST", "/api/preview", 200), said
        assert any(segment.match(path) for _, path, _ in seen), said
        return
    assert segment.match(seen[refused][1]), seen[refused]
    regranted = seen.index(("POST", "/api/preview", 200), refused)
    # One refusal is enough to ask: hls.js's own back-off (six retries of the refused segment,
    # about 30 s of a stalled picture) does not come first. A segment already in flight when the
    # grant lapsed (the forward buffer's) may be refused too before the new grant is back,
    # but no refused segment is asked for twice under the lapsed grant.
    refusals = [path for _, path, status in seen[:regranted] if status == 403]
    assert len(refusals) == len(set(refusals)) <= 2, seen[:regranted]
    assert any(
        segment.match(path) and status == 200 for _, path, status in seen[regranted + 1 :]
    ), seen
