"""Encoded and traversing paths never address another object or bucket, nothing the edge
forwards can write to the bucket, and nothing the bucket says in its own words (S3's XML
errors) reaches a client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dailies.grant_rules import COOKIE_NAME
from dailies.previews.layout import IMMUTABLE
from dailies.settings import Settings
from ops.processes import Service
from tests.edge.counting_origin import Origin
from tests.grants import grant_for
from tests.security.conftest import BUCKET, raw_request

# {sha} is filled per test. Each would address something other than one preview object of
# that sha: another bucket, another master's folder, a key with a query in it.
HOSTILE_PATHS = [
    "/previews/..%2fstaging/uploads/a.mov",
    "/previews/%2e%2e/staging/uploads/a.mov",
    "/previews/%2e%2e%2fstaging%2fuploads%2fa.mov",
    "/previews/{sha}/../../staging/uploads/a.mov",
    "/previews/{sha}/..%2f..%2fstaging%2fuploads%2fa.mov",
    "/previews/{sha}/%2e%2e/%2e%2e/staging/uploads/a.mov",
    "/previews/{sha}/%252e%252e%252f%252e%252e%252fstaging/a.mov",
    "/previews/{sha}/..%5c..%5cstaging%5ca.mov",
    "/previews/{sha}/seg.m4s%3ftagging",
    "/previews/{sha}/seg.m4s%3Facl",
    "/previews/{sha}/seg.m4s%23x",
    "/previews/{sha}/seg%20.m4s",
    "/previews/{sha}/seg%00.m4s",
    "/previews/{sha}%2f..%2f..%2fmasters/x",
    "/%70reviews/..%2f..%2fmasters/x",
    "//previews/../masters/x",
]


@pytest.mark.parametrize("template", HOSTILE_PATHS)
def test_encoded_and_traversing_paths_never_reach_the_bucket(
    edge: Service, origin: Origin, sha: str, template: str
) -> None:
    before = len(origin.seen)
    status, headers, _ = raw_request(edge.url, "GET", template.format(sha=sha))
    assert status in {400, 404}
    assert origin.seen[before:] == []
    assert headers.get("cache-control", "no-store") in {"no-store", "no-cache"}


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH", "PROPFIND", "MKCOL"])
@pytest.mark.parametrize(
    "path",
    ["/previews/{sha}/360p/v1-00001.m4s", "/previews/{sha}/poster.jpg?acl", "/%70reviews/{sha}/x"],
)
def test_write_methods_are_refused_and_never_reach_the_bucket(
    edge: Service, origin: Origin, sha: str, method: str, path: str
) -> None:
    before = len(origin.seen)
    status, _, _ = raw_request(
        edge.url, method, path.format(sha=sha), {"Host": "edge", "Content-Length": "0"}
    )
    assert status == 405
    assert origin.seen[before:] == []


def test_delete_of_a_cached_object_changes_nothing(
    client: httpx.Client, previews_s3: Any, origin: Origin, sha: str
) -> None:
    key = f"{sha}/poster.jpg"
    previews_s3.put_object(Bucket=BUCKET, Key=key, Body=b"\xff\xd8jpeg", ContentType="image/jpeg")
    assert client.get(f"/previews/{key}").status_code == 200
    assert client.delete(f"/previews/{key}").status_code == 405
    assert client.request("PURGE", f"/previews/{key}").status_code == 405
    still = client.get(f"/previews/{key}")
    assert (still.headers["x-cache-status"], still.content) == ("HIT", b"\xff\xd8jpeg")
    assert [r.method for r in origin.seen_for(f"/{BUCKET}/{key}")] == ["GET"]


def _granted(settings: Settings, sha: str) -> dict[str, str]:
    return {"Host": "edge", "Cookie": f"{COOKIE_NAME}={grant_for(settings, sha)}"}


# Method tokens nginx parses (capitals, "-" and "_") other than GET, HEAD and OPTIONS.
# Issue 25: M-SEARCH and GET_ slipped past a filter that knew only [A-Z]+ and, sent with a
# grant, reached the bucket as they were.
ODD_METHODS = ["M-SEARCH", "GET_", "_GET", "GET-", "HEAD_", "OPTIONS_", "G-E-T", "SEARCH", "X"]


@pytest.mark.parametrize("method", ODD_METHODS)
def test_odd_method_tokens_with_a_grant_are_405_and_never_reach_the_bucket(
    edge: Service, edge_settings: Settings, previews_s3: Any, origin: Origin, sha: str, method: str
) -> None:
    key = f"{sha}/360p/v1-00001.m4s"
    previews_s3.put_object(Bucket=BUCKET, Key=key, Body=b"segment", ContentType="video/mp4")
    granted = {**_granted(edge_settings, sha), "Content-Length": "0"}

    status, headers, _ = raw_request(edge.url, method, f"/previews/{key}", granted)

    assert status == 405
    assert headers["allow"] == "GET, HEAD, OPTIONS"
    assert origin.seen_for(f"/{BUCKET}/{key}") == []
    # The same grant and path with GET do reach it: the refusal is the method's alone.
    assert raw_request(edge.url, "GET", f"/previews/{key}", granted)[0] == 200
    assert [r.method for r in origin.seen_for(f"/{BUCKET}/{key}")] == ["GET"]


# A name that only exists once nginx has decoded it. Issue 25: /previews/{sha}/360p%2fseg
# was served as 360p/seg although the README says an encoded path is a 404.
ENCODED_NAMES = [
    "/previews/{sha}/360p%2fv1-00001.m4s",
    "/previews/{sha}/360p%2Fv1-00001.m4s",
    "/previews/{sha}%2f360p/v1-00001.m4s",
    "/previews/{sha}/360p/v1-00001%2em4s",
    "/previews/{sha}/360p/v%31-00001.m4s",
]


@pytest.mark.parametrize("template", ENCODED_NAMES)
def test_an_encoded_slash_inside_a_preview_name_is_404_even_with_a_grant(
    edge: Service,
    edge_settings: Settings,
    previews_s3: Any,
    origin: Origin,
    sha: str,
    template: str,
) -> None:
    key = f"{sha}/360p/v1-00001.m4s"
    previews_s3.put_object(Bucket=BUCKET, Key=key, Body=b"segment", ContentType="video/mp4")

    status, headers, _ = raw_request(
        edge.url, "GET", template.format(sha=sha), _granted(edge_settings, sha)
    )

    assert status == 404
    assert headers["cache-control"] == "no-store"
    assert origin.seen_for(f"/{BUCKET}/{key}") == []
    # Asked for by its own name, with the same grant, the object is there.
    assert raw_request(edge.url, "GET", f"/previews/{key}", _granted(edge_settings, sha))[0] == 200


def _is_edges_own_answer(response: httpx.Response) -> None:
    """A JSON reason the player can show, remembered by nobody, with nothing of S3's."""
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()
    assert b"<" not in response.content
    assert response.headers["cache-control"] == "no-store"
    assert not any(name.startswith("x-amz") for name in response.headers)


# (object, the Range asked for, the Content-Range of the 416). A segment and a poster are
# ranged by nginx over the whole object, which knows its length; preview.mp4 in 1 MiB
# slices, so a range a slice past its end is asked of S3, which answers 416 with an XML
# InvalidRange document that alone says the length (no header): the 416 says none then.
PAST_THE_END = [
    ("360p/v1-00001.m4s", "bytes=5000-", "bytes */1000"),
    ("poster.jpg", "bytes=1000-1999", "bytes */1000"),
    ("preview.mp4", "bytes=5000-", "bytes */1000"),
    ("preview.mp4", "bytes=3000000-3000099", None),
]


@pytest.mark.parametrize("stored_cache_control", [IMMUTABLE, None], ids=["publisher-cc", "no-cc"])
@pytest.mark.parametrize(("name", "asked", "content_range"), PAST_THE_END)
def test_a_range_past_the_end_is_the_edges_own_416_never_cached_nor_xml(
    client: httpx.Client,
    previews_s3: Any,
    sha: str,
    name: str,
    asked: str,
    content_range: str | None,
    stored_cache_control: str | None,
) -> None:
    body = bytes(range(250)) * 4  # 1,000 bytes
    extra = {"CacheControl": stored_cache_control} if stored_cache_control else {}
    previews_s3.put_object(
        Bucket=BUCKET, Key=f"{sha}/{name}", Body=body, ContentType="video/mp4", **extra
    )
    path = f"/previews/{sha}/{name}"

    uncached = client.get(path, headers={"Range": asked})
    whole = client.get(path)
    cached = client.get(path, headers={"Range": asked})

    for response in (uncached, cached):
        assert response.status_code == 416, response.text
        _is_edges_own_answer(response)
        assert response.headers.get("content-range") == content_range
        assert "etag" not in response.headers
    # From the cache where the edge holds the object; a slice past the end never is.
    assert cached.headers["x-cache-status"] == ("HIT" if content_range else "MISS")
    # The object itself is still served whole, and remembered as long as ever.
    assert (whole.status_code, whole.content) == (200, body)
    assert "immutable" in whole.headers["cache-control"]


# Whatever else S3 answers that is not the object: a redirect (wrong region), a request it
# refuses, throttling, an outage. Its XML body names the bucket's insides; the client gets
# the edge's own words (403 and 404 are the "not found" of test_edge_cache.py).
ORIGIN_ERRORS = {
    301: 502,
    307: 502,
    400: 502,
    405: 502,
    409: 502,
    411: 502,
    412: 502,
    416: 416,
    429: 502,
    500: 502,
    501: 502,
    503: 502,
}


@pytest.mark.parametrize(("origin_status", "edge_status"), ORIGIN_ERRORS.items())
def test_no_origin_error_body_reaches_the_client(
    client: httpx.Client, origin: Origin, sha: str, origin_status: int, edge_status: int
) -> None:
    name = "240p/seg-00001.m4s"
    origin.status[f"/{BUCKET}/{sha}/{name}"] = origin_status

    response = client.get(f"/previews/{sha}/{name}")

    assert response.status_code == edge_status
    _is_edges_own_answer(response)
