"""The edge passes the bucket an object path and nothing else: no client query string (S3
subresources and response overrides), no client headers, no Host of the client's choosing;
and nothing S3 says about itself reaches the client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dailies.previews.layout import IMMUTABLE
from tests.edge.counting_origin import Origin
from tests.security.conftest import BUCKET

SEGMENT = bytes(range(256)) * 64  # 16 KiB
POSTER = b"\xff\xd8\xff\xe0poster"

# S3 subresources and overrides: each makes a GET of the object answer something else
# (tagging/ACL XML, another version, a Content-Type and Content-Disposition of our choosing).
POISONING_QUERIES = [
    "tagging",
    "acl",
    "versionId=null",
    "response-content-type=text/html",
    "response-content-disposition=attachment%3B%20filename%3Dx.html",
    "uploads",
    "attributes",
    "x-amz-expected-bucket-owner=1&X-Amz-Security-Token=x",
]


def _put_segment(s3: Any, sha: str) -> str:
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{sha}/360p/v1-00001.m4s",
        Body=SEGMENT,
        ContentType="video/iso.segment",
        CacheControl=IMMUTABLE,
        Tagging="owner=editor",
    )
    return f"{sha}/360p/v1-00001.m4s"


def _targets(origin: Origin, key: str) -> list[str]:
    return [r.target for r in origin.seen_for(f"/{BUCKET}/{key}")]


@pytest.mark.parametrize("query", POISONING_QUERIES)
def test_query_string_never_reaches_the_bucket_and_cannot_poison_the_cache(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str, query: str
) -> None:
    key = _put_segment(previews_s3, sha)

    attack = client.get(f"/previews/{key}?{query}")
    assert attack.status_code == 200
    assert attack.content == SEGMENT
    assert attack.headers["content-type"] == "video/iso.segment"

    # What the cache now holds for the segment is the segment.
    player = client.get(f"/previews/{key}")
    assert (player.headers["x-cache-status"], player.content) == ("HIT", SEGMENT)
    assert player.headers["content-type"] == "video/iso.segment"
    assert _targets(origin, key) == [f"/{BUCKET}/{key}"]


@pytest.mark.parametrize("name", ["storyboard.vtt", "360p/index.m3u8", "preview.mp4"])
def test_playlists_storyboards_and_the_mp4_drop_the_query_too(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str, name: str
) -> None:
    key = f"{sha}/{name}"
    previews_s3.put_object(Bucket=BUCKET, Key=key, Body=b"WEBVTT\n\n", ContentType="text/vtt")
    for query in ("acl", "tagging", "response-content-type=text/html"):
        response = client.get(f"/previews/{key}?{query}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/vtt"
    assert {t.split("?", 1)[0] for t in _targets(origin, key)} == {f"/{BUCKET}/{key}"}
    assert all("?" not in t for t in _targets(origin, key))


def test_poster_is_never_served_as_html(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str
) -> None:
    key = f"{sha}/poster.jpg"
    previews_s3.put_object(Bucket=BUCKET, Key=key, Body=POSTER, ContentType="image/jpeg")
    response = client.get(
        f"/previews/{key}?response-content-type=text/html"
        "&response-content-disposition=inline&response-cache-control=no-transform"
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert "content-disposition" not in response.headers
    # Browsers must not second-guess the type either.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert _targets(origin, key) == [f"/{BUCKET}/{key}"]


@pytest.mark.parametrize("name", ["360p/v1-00001.m4s", "preview.mp4", "manifest.m3u8"])
def test_client_headers_never_reach_the_bucket(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str, name: str
) -> None:
    key = f"{sha}/{name}"
    previews_s3.put_object(Bucket=BUCKET, Key=key, Body=SEGMENT)
    sent = {
        "x-amz-checksum-mode": "ENABLED",
        "x-amz-request-payer": "requester",
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-security-token": "stolen",
        "Authorization": "Bearer reviewer-token",
        "Cookie": "session=1",
        "X-Forwarded-Host": "evil.example",
        "X-Original-URL": f"/{BUCKET}/{sha}/poster.jpg?acl",
    }
    response = client.get(f"/previews/{key}", headers=sent)
    assert (response.status_code, response.content) == (200, SEGMENT)
    [request] = origin.seen_for(f"/{BUCKET}/{key}")
    # The edge's own SigV4 headers (the bucket is private), none of the client's.
    leaked = {header for header in request.headers if header.startswith("x-amz-")}
    leaked -= {"x-amz-date", "x-amz-content-sha256"}
    private = {"cookie", "x-forwarded-host", "x-original-url"}
    leaked |= private & set(request.headers)
    assert not leaked, request.headers
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")


def test_s3_response_headers_are_hidden(client: httpx.Client, previews_s3: Any, sha: str) -> None:
    key = f"{sha}/720p/v1-00002.m4s"
    previews_s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=SEGMENT,
        ContentType="video/iso.segment",
        ServerSideEncryption="AES256",
        Tagging="owner=editor",
        StorageClass="STANDARD_IA",
    )
    for attempt in ("MISS", "HIT"):
        response = client.get(f"/previews/{key}")
        assert response.headers["x-cache-status"] == attempt
        assert not [h for h in response.headers if h.lower().startswith("x-amz-")], dict(
            response.headers
        )


def test_host_header_neither_reaches_the_bucket_nor_splits_the_cache(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str, edge_settings: Any
) -> None:
    key = _put_segment(previews_s3, sha)
    evil = client.get(
        f"/previews/{key}", headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    )
    assert (evil.status_code, evil.content) == (200, SEGMENT)
    for host in ("127.0.0.1", "other.example"):
        again = client.get(f"/previews/{key}", headers={"Host": host})
        assert (again.headers["x-cache-status"], again.content) == ("HIT", SEGMENT)
    [request] = origin.seen_for(f"/{BUCKET}/{key}")
    assert request.headers["host"] == httpx.URL(origin.url).netloc.decode()
