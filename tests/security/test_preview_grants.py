"""Watching needs a grant: the edge checks it for every preview object (before its cache,
so a cached copy is never served without one) and signs what it asks the private bucket
for. Grants here are made with the home's key, as the API makes them
(tests/security/test_grant_issuing.py covers the API's side)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dailies.grant_rules import COOKIE_NAME
from dailies.settings import Settings
from tests.edge.counting_origin import Origin
from tests.grants import grant_for
from tests.security.conftest import BUCKET

SEGMENT = bytes(range(256)) * 64
OBJECTS = ["360p/v1-00001.m4s", "manifest.m3u8", "360p/index.m3u8", "preview.mp4", "poster.jpg"]


def _put(s3: Any, sha: str, name: str) -> str:
    s3.put_object(Bucket=BUCKET, Key=f"{sha}/{name}", Body=SEGMENT)
    return f"/previews/{sha}/{name}"


def _cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={value}"}


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/json"
    assert "grant" in response.json()["detail"]
    assert SEGMENT not in response.content
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("name", OBJECTS)
def test_no_grant_is_403_and_never_reaches_the_bucket(
    bare: httpx.Client, previews_s3: Any, origin: Origin, sha: str, name: str
) -> None:
    path = _put(previews_s3, sha, name)
    _refused(bare.get(path))
    _refused(bare.get(path, headers={"Range": "bytes=0-9"}))
    assert origin.count(f"/{BUCKET}/{sha}/{name}") == 0


def test_a_grant_for_another_sha_expired_or_forged_is_403(
    bare: httpx.Client, edge_settings: Settings, previews_s3: Any, sha: str
) -> None:
    path = _put(previews_s3, sha, "360p/v1-00001.m4s")
    other = grant_for(edge_settings, "0" * 64)
    expired = grant_for(edge_settings, sha, ttl_s=10, now=time.time() - 11)
    good = grant_for(edge_settings, sha)
    expires, mac = good.split(".")
    for bad in (
        other,
        expired,
        f"{int(expires) + 3600}.{mac}",  # a later expiry under the same signature
        f"{expires}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
        "garbage",
        "",
    ):
        _refused(bare.get(path, headers=_cookie(bad)))
        _refused(bare.get(path, params={"grant": bad}))
    assert bare.get(path, headers=_cookie(good)).content == SEGMENT


def test_a_cached_object_is_still_served_only_with_a_grant(
    bare: httpx.Client, edge_settings: Settings, previews_s3: Any, origin: Origin, sha: str
) -> None:
    path = _put(previews_s3, sha, "360p/v1-00002.m4s")
    granted = bare.get(path, headers=_cookie(grant_for(edge_settings, sha)))
    assert (granted.headers["x-cache-status"], granted.content) == ("MISS", SEGMENT)
    cached = bare.get(path, headers=_cookie(grant_for(edge_settings, sha)))
    assert cached.headers["x-cache-status"] == "HIT"

    _refused(bare.get(path))
    _refused(bare.get(path, headers=_cookie(grant_for(edge_settings, "f" * 64))))
    # One cached copy for every reviewer: neither the cookie nor ?grant= is in the cache key.
    by_query = bare.get(path, params={"grant": grant_for(edge_settings, sha, ttl_s=900)})
    assert (by_query.headers["x-cache-status"], by_query.content) == ("HIT", SEGMENT)
    assert origin.count(f"/{BUCKET}/{sha}/360p/v1-00002.m4s") == 1


def test_the_edge_signs_its_origin_requests_with_sigv4(
    client: httpx.Client, edge_settings: Settings, previews_s3: Any, origin: Origin, sha: str
) -> None:
    """moto does not check signatures: check the one the edge sent against botocore's."""
    path = _put(previews_s3, sha, "360p/v1-00003.m4s")
    assert client.get(path).status_code == 200
    sent = origin.seen_for(f"/{BUCKET}/{sha}/360p/v1-00003.m4s")[0]
    headers = sent.headers
    assert headers["x-amz-date"].endswith("Z")
    request = AWSRequest(
        method="GET",
        url=f"http://{headers['host']}{sent.target}",
        headers={
            "host": headers["host"],
            "x-amz-content-sha256": headers["x-amz-content-sha256"],
            "x-amz-date": headers["x-amz-date"],
        },
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = S3SigV4Auth(Credentials("testing", "testing"), "s3", edge_settings.aws_region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = f"testing/{headers['x-amz-date'][:8]}/{edge_settings.aws_region}/s3/aws4_request"
    assert headers["authorization"] == (
        f"AWS4-HMAC-SHA256 Credential={scope}, "
        f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={expected}"
    )
    # Nothing of the reviewer's reaches the bucket: not the grant, not their cookies.
    assert "cookie" not in headers and "grant" not in sent.target
