"""Caching through the real nginx edge: hits, uncached misses, one origin fetch for many
concurrent misses, and playlists that follow a build as it publishes."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.previews.layout import BUILDING_PLAYLIST, FINAL_PLAYLIST, IMMUTABLE
from ops.processes import Service
from tests.edge.counting_origin import Origin

BUCKET = "previews"
SEGMENT = bytes(range(256)) * 64  # 16 KiB
EVENT_TIMEOUT_S = 60  # failure timeout for a wait on an event


def _put(s3: Any, key: str, body: bytes, **extra: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)


def _moto_gets(s3_server: Service, path: str) -> int:
    """GETs moto itself logged for `path`: the S3 side's own count."""
    assert s3_server.log_path is not None
    needle = f'"GET {path} HTTP/1.1"'
    return s3_server.log_path.read_text(errors="replace").count(needle)


def test_miss_then_hit(client: httpx.Client, previews_s3: Any, origin: Origin, sha: str) -> None:
    _put(previews_s3, f"{sha}/720p/seg-00001.m4s", SEGMENT, CacheControl=IMMUTABLE)
    path = f"/previews/{sha}/720p/seg-00001.m4s"

    first = client.get(path)
    second = client.get(path)

    assert (first.status_code, first.headers["x-cache-status"]) == (200, "MISS")
    assert (second.status_code, second.headers["x-cache-status"]) == (200, "HIT")
    assert first.content == second.content == SEGMENT
    assert "immutable" in second.headers["cache-control"]
    assert origin.count(f"/{BUCKET}/{sha}/720p/seg-00001.m4s") == 1


@pytest.mark.parametrize("name", ["manifest.m3u8", "720p/seg-00001.m4s", "preview.mp4"])
def test_missing_preview_is_not_cached(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str, name: str
) -> None:
    path = f"/previews/{sha}/{name}"

    missing = client.get(path)
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store"
    assert missing.json() == {"detail": "not found"}

    _put(previews_s3, f"{sha}/{name}", SEGMENT)
    appeared = client.get(path)

    assert appeared.status_code == 200
    assert appeared.headers["x-cache-status"] == "MISS"
    assert appeared.content == SEGMENT
    assert origin.count(f"/{BUCKET}/{sha}/{name}") == 2


def test_forbidden_from_origin_is_an_uncached_404(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str
) -> None:
    """AWS answers 403 for a missing key to a caller without ListBucket."""
    key = f"{sha}/poster.jpg"
    origin.forbid.add(f"/{BUCKET}/{key}")
    try:
        denied = client.get(f"/previews/{key}")
        assert denied.status_code == 404
        assert denied.headers["content-type"] == "application/json"
        assert denied.headers["access-control-allow-origin"] == "*"
    finally:
        origin.forbid.discard(f"/{BUCKET}/{key}")

    _put(previews_s3, key, b"\xff\xd8jpeg")
    assert client.get(f"/previews/{key}").status_code == 200
    assert origin.count(f"/{BUCKET}/{key}") == 2


def test_concurrent_misses_make_one_origin_request(
    client: httpx.Client, previews_s3: Any, origin: Origin, s3_server: Service, sha: str
) -> None:
    key = f"{sha}/1080p/seg-00042.m4s"
    _put(previews_s3, key, SEGMENT * 8)
    # Hold the origin's answer so that the 50 requests arrive while the first is a miss
    # (setup, not a wait: a request that comes later is a hit, and the counts hold alike).
    origin.delay_s[f"/{BUCKET}/{key}"] = 0.5
    start = threading.Barrier(50)

    def fetch(_: int) -> httpx.Response:
        start.wait()
        return client.get(f"/previews/{key}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(fetch, range(50)))

    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.content == SEGMENT * 8 for r in responses)
    assert [r.headers["x-cache-status"] for r in responses].count("MISS") == 1
    assert origin.count(f"/{BUCKET}/{key}") == 1
    # moto writes its log line just after answering: wait for it, then count there too.
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not (gets := _moto_gets(s3_server, f"/{BUCKET}/{key}")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gets == 1


def test_playlist_follows_a_build_while_it_publishes(
    client: httpx.Client, previews_s3: Any, edge_settings: Any, sha: str
) -> None:
    key = f"{sha}/720p/index.m3u8"
    head = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:2\n"
    one = head + "#EXTINF:2.0,\nseg-00001.m4s\n"
    two = one + "#EXTINF:2.0,\nseg-00002.m4s\n"
    building = {"ContentType": "application/vnd.apple.mpegurl", "CacheControl": BUILDING_PLAYLIST}
    _put(previews_s3, key, one.encode(), **building)
    assert client.get(f"/previews/{key}").text == one
    cached = client.get(f"/previews/{key}")
    assert (cached.text, cached.headers["x-cache-status"]) == (one, "HIT")

    _put(previews_s3, key, two.encode(), **building)
    # Refreshed once its TTL (a second) is out; without the playlist rule it would be cached
    # like a segment, for a year: the deadline is only a failure timeout between the two.
    deadline = time.monotonic() + edge_settings.edge_playlist_ttl_s + EVENT_TIMEOUT_S
    while (served := client.get(f"/previews/{key}")).text != two:
        assert time.monotonic() < deadline, served.text
        time.sleep(0.1)

    assert served.headers["x-cache-status"] in {"EXPIRED", "MISS"}
    # The publisher's header reaches players, so they re-poll as often as the edge does.
    assert served.headers["cache-control"] == BUILDING_PLAYLIST


def test_timing_json_rewritten_by_the_ladder_is_never_served_stale(
    client: httpx.Client, previews_s3: Any, edge_settings: Any, sha: str
) -> None:
    """Issue 26: the first rendition writes timing.json without the ladder's video start, the
    ladder rewrites it; the edge cached it for a year like a segment, and every master first
    opened mid-build showed labels two frames off for good. It now revalidates like a
    playlist."""
    key = f"{sha}/timing.json"
    first = b'{"fps": "30000/1001", "start_frame": 0}'
    ladder = b'{"fps": "30000/1001", "start_frame": 0, "video_start_s": 0.0667}'
    building = {"ContentType": "application/json", "CacheControl": BUILDING_PLAYLIST}
    _put(previews_s3, key, first, **building)
    assert client.get(f"/previews/{key}").content == first
    assert client.get(f"/previews/{key}").headers["x-cache-status"] == "HIT"

    _put(previews_s3, key, ladder, ContentType="application/json", CacheControl=FINAL_PLAYLIST)
    deadline = time.monotonic() + edge_settings.edge_playlist_ttl_s + EVENT_TIMEOUT_S
    while (served := client.get(f"/previews/{key}")).content != ladder:
        assert time.monotonic() < deadline, (served.headers, served.text)
        time.sleep(0.1)
    assert served.headers["cache-control"] == FINAL_PLAYLIST  # the publisher's, not a year


def test_cache_lives_in_the_configured_directory(
    client: httpx.Client, previews_s3: Any, edge: Service, sha: str
) -> None:
    _put(previews_s3, f"{sha}/poster.jpg", b"\xff\xd8poster")
    assert client.get(f"/previews/{sha}/poster.jpg").status_code == 200
    cached = [p for p in Path(edge.extra["cache_dir"]).rglob("*") if p.is_file()]
    assert any(f"/previews/{sha}/poster.jpg".encode() in p.read_bytes() for p in cached)
