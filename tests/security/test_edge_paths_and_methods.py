"""Encoded and traversing paths never address another object or bucket, and nothing the
edge forwards can write to the bucket."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ops.processes import Service
from tests.edge.counting_origin import Origin
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
