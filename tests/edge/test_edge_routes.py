"""What the edge serves besides cache hits: byte ranges, CORS, gzip, the player and the
API behind it, and nothing that writes to the bucket."""

from __future__ import annotations

import gzip
import os
from typing import Any

import httpx
import pytest

from ops.edge import PLAYER_DIR
from ops.processes import Service
from tests.edge.counting_origin import Origin

BUCKET = "previews"
MiB = 1024 * 1024
# 2.5 MiB of non-repeating bytes: a misplaced slice shows up as wrong content.
MP4 = os.urandom(5 * MiB // 2)


@pytest.fixture
def preview_mp4(previews_s3: Any, sha: str) -> str:
    previews_s3.put_object(
        Bucket=BUCKET, Key=f"{sha}/preview.mp4", Body=MP4, ContentType="video/mp4"
    )
    return f"/previews/{sha}/preview.mp4"


@pytest.mark.parametrize(
    ("first", "last"),
    [(0, 99), (1000, 1099), (MiB - 50, MiB + 49), (2 * MiB + 7, len(MP4) - 1)],
    ids=["start", "inside-slice", "across-slices", "to-the-end"],
)
def test_range_on_preview_mp4_uncached_then_cached(
    client: httpx.Client, preview_mp4: str, first: int, last: int
) -> None:
    for expected_status in ("MISS", "HIT"):
        response = client.get(preview_mp4, headers={"Range": f"bytes={first}-{last}"})
        assert response.status_code == 206
        assert response.headers["content-range"] == f"bytes {first}-{last}/{len(MP4)}"
        assert response.content == MP4[first : last + 1]
        assert response.headers["x-cache-status"] == expected_status


def test_whole_preview_mp4_after_a_range(client: httpx.Client, preview_mp4: str) -> None:
    assert client.get(preview_mp4, headers={"Range": "bytes=0-1"}).status_code == 206
    whole = client.get(preview_mp4)
    assert whole.status_code == 200
    assert whole.content == MP4
    assert whole.headers["accept-ranges"] == "bytes"


def test_open_ended_range_on_an_uncached_segment(
    client: httpx.Client, previews_s3: Any, sha: str
) -> None:
    body = os.urandom(50_000)
    previews_s3.put_object(Bucket=BUCKET, Key=f"{sha}/480p/seg-00003.m4s", Body=body)
    response = client.get(f"/previews/{sha}/480p/seg-00003.m4s", headers={"Range": "bytes=49000-"})
    assert response.status_code == 206
    assert response.content == body[49000:]


def test_cors_for_players_on_other_origins(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str
) -> None:
    previews_s3.put_object(Bucket=BUCKET, Key=f"{sha}/manifest.m3u8", Body=b"#EXTM3U\n")
    path = f"/previews/{sha}/manifest.m3u8"
    got = client.get(path, headers={"Origin": "https://review.example"})
    assert got.headers["access-control-allow-origin"] == "*"
    assert "X-Cache-Status" in got.headers["access-control-expose-headers"]
    assert "Content-Range" in got.headers["access-control-expose-headers"]

    preflight = client.options(
        path,
        headers={
            "Origin": "https://review.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )
    assert preflight.status_code == 204
    assert "Range" in preflight.headers["access-control-allow-headers"]
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert origin.count(f"/{BUCKET}/{sha}/manifest.m3u8") == 1


def test_playlists_are_gzipped(client: httpx.Client, previews_s3: Any, sha: str) -> None:
    playlist = "#EXTM3U\n" + "".join(f"#EXTINF:2.0,\nseg-{i:05}.m4s\n" for i in range(200))
    previews_s3.put_object(
        Bucket=BUCKET,
        Key=f"{sha}/720p/index.m3u8",
        Body=playlist.encode(),
        ContentType="application/vnd.apple.mpegurl",
    )
    path = f"/previews/{sha}/720p/index.m3u8"
    # Raw bytes: httpx would otherwise decode the gzip for us and hide the header.
    with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw).decode() == playlist
    assert "Accept-Encoding" in response.headers["vary"]


def test_writes_never_reach_the_bucket(client: httpx.Client, origin: Origin, sha: str) -> None:
    for method in ("PUT", "POST", "DELETE"):
        assert client.request(method, f"/previews/{sha}/x.m4s", content=b"x").status_code == 405
    assert origin.count(f"/{BUCKET}/{sha}/x.m4s") == 0


@pytest.mark.parametrize(
    "path",
    ["/previews/", "/previews/not-a-sha/manifest.m3u8", "/previews/ABC/../x", "/nothing"],
)
def test_only_preview_objects_are_proxied(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_watch_page_and_player_files(client: httpx.Client, sha: str) -> None:
    """The real review page and scripts, byte for byte, with their types."""
    page = client.get(f"/watch/{sha}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.content == (PLAYER_DIR / "index.html").read_bytes()
    assert page.headers["cache-control"] == "no-cache"

    for name in ("player.js", "controls.js", "timecode.js", "documents.js"):
        script = client.get(f"/player/{name}", headers={"Accept-Encoding": "identity"})
        assert script.status_code == 200, name
        assert script.headers["content-type"] == "application/javascript"
        assert script.content == (PLAYER_DIR / name).read_bytes()


def test_api_is_proxied_with_the_reviewers_token(
    client: httpx.Client, api_seen: Origin, tokens: dict[str, str], sha: str
) -> None:
    """The API's own answer (no such master: 404), and the API got the reviewer's token."""
    token = f"Bearer {tokens['reviewer']}"
    response = client.get(f"/api/preview/{sha}", headers={"Authorization": token})
    assert response.status_code == 404, response.text
    assert "detail" in response.json()
    [forwarded] = api_seen.seen_for(f"/api/preview/{sha}")
    assert (forwarded.method, forwarded.headers["authorization"]) == ("GET", token)
    assert forwarded.headers["x-forwarded-for"] == "127.0.0.1"
    assert "x-cache-status" not in response.headers
    assert "access-control-allow-origin" not in response.headers


def test_unreachable_origin_is_a_json_502(client: httpx.Client, origin: Origin, sha: str) -> None:
    key = f"/{BUCKET}/{sha}/240p/seg-00001.m4s"
    origin.status[key] = 503
    response = client.get(f"/previews/{sha}/240p/seg-00001.m4s")
    assert response.status_code == 502
    assert "unavailable" in response.json()["detail"]
    assert response.headers["cache-control"] == "no-store"


def test_edge_answers_health(edge: Service) -> None:
    assert httpx.get(edge.url + "/_edge/health").text == "ok\n"
