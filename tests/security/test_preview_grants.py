"""Watching needs a grant: the edge checks it for every preview object (before its cache,
so a cached copy is never served without one) and signs what it asks the private bucket
for. Grants here are made with the home's key, as the API makes them
(tests/security/test_grant_issuing.py covers the API's side)."""

from __future__ import annotations

import secrets
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydantic import SecretStr

from dailies.grant_rules import COOKIE_NAME, issue_grant
from dailies.settings import Settings
from tests.edge.conftest import running_edge
from tests.edge.counting_origin import Origin, SeenRequest
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


def _assert_signed_like_botocore(sent: SeenRequest, region: str, token: str | None) -> None:
    """moto does not check signatures: check the one the edge sent against botocore's."""
    headers = sent.headers
    assert headers["x-amz-date"].endswith("Z")
    names = ["host", "x-amz-content-sha256", "x-amz-date"]
    if token is not None:
        names.append("x-amz-security-token")
        assert headers["x-amz-security-token"] == token
    else:
        assert "x-amz-security-token" not in headers
    request = AWSRequest(
        method="GET",
        url=f"http://{headers['host']}{sent.target}",
        headers={name: headers[name] for name in names},
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = S3SigV4Auth(Credentials("testing", "testing", token), "s3", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = f"testing/{headers['x-amz-date'][:8]}/{region}/s3/aws4_request"
    assert headers["authorization"] == (
        f"AWS4-HMAC-SHA256 Credential={scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={expected}"
    )


def test_the_edge_signs_its_origin_requests_with_sigv4(
    client: httpx.Client, edge_settings: Settings, previews_s3: Any, origin: Origin, sha: str
) -> None:
    path = _put(previews_s3, sha, "360p/v1-00003.m4s")
    assert client.get(path).status_code == 200
    sent = origin.seen_for(f"/{BUCKET}/{sha}/360p/v1-00003.m4s")[0]
    _assert_signed_like_botocore(sent, edge_settings.aws_region, token=None)
    # Nothing of the reviewer's reaches the bucket: not the grant, not their cookies.
    assert "cookie" not in sent.headers and "grant" not in sent.target


def test_temporary_credentials_sign_their_session_token(
    edge_settings: Settings,
    previews_s3: Any,
    origin: Origin,
    sha: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """STS credentials (AWS_SESSION_TOKEN, read by boto3 when the edge starts): the token
    goes as x-amz-security-token and is one of the signed headers, or S3 refuses it."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEJr//session+token/with=chars")
    path = _put(previews_s3, sha, "360p/v1-00004.m4s")
    with running_edge(edge_settings, None, tmp_path_factory) as edge:
        answer = httpx.get(edge.url + path, headers=_cookie(grant_for(edge_settings, sha)))
    assert answer.content == SEGMENT
    [sent] = origin.seen_for(f"/{BUCKET}/{sha}/360p/v1-00004.m4s")
    token = "FwoGZXIvYXdzEJr//session+token/with=chars"
    _assert_signed_like_botocore(sent, edge_settings.aws_region, token=token)


def test_a_valid_grant_wins_over_a_stale_one_beside_it(
    bare: httpx.Client, edge_settings: Settings, previews_s3: Any, sha: str
) -> None:
    """A browser may still hold an expired cookie when the page is opened with a fresh
    ?grant=: either valid one is enough, in either place."""
    path = _put(previews_s3, sha, "360p/v1-00005.m4s")
    stale = grant_for(edge_settings, sha, ttl_s=10, now=time.time() - 11)
    good = grant_for(edge_settings, sha)
    for cookie, query in ((stale, good), (good, stale), (good, "garbage"), ("garbage", good)):
        answer = bare.get(path, headers=_cookie(cookie), params={"grant": query})
        assert answer.status_code == 200, (cookie, query, answer.text)
    _refused(bare.get(path, headers=_cookie(stale), params={"grant": stale}))


def test_rotating_the_key_ends_every_grant(
    bare: httpx.Client,
    edge_settings: Settings,
    previews_s3: Any,
    sha: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """README: "rotating it ends every grant" (no overlap: a grant is one HMAC under one
    key). The edge restarted on a new DAILIES_PREVIEW_GRANT_SECRET refuses grants made
    under the old one and takes those made under the new; the old edge, the reverse."""
    path = _put(previews_s3, sha, "360p/v1-00006.m4s")
    before = grant_for(edge_settings, sha)
    rotated = edge_settings.model_copy(
        update={"preview_grant_secret": SecretStr(secrets.token_hex(32))}
    )
    after = grant_for(rotated, sha)
    assert bare.get(path, headers=_cookie(before)).status_code == 200
    _refused(bare.get(path, headers=_cookie(after)))
    with running_edge(rotated, None, tmp_path_factory) as edge:
        _refused(httpx.get(edge.url + path, headers=_cookie(before)))
        _refused(httpx.get(edge.url + path, params={"grant": before}))
        assert httpx.get(edge.url + path, headers=_cookie(after)).content == SEGMENT


def test_an_edge_without_a_grant_key_refuses_every_grant(
    edge_settings: Settings,
    previews_s3: Any,
    sha: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Fails closed: an empty key grants nothing, not even a grant made with that empty
    key (which anybody could make)."""
    path = _put(previews_s3, sha, "360p/v1-00007.m4s")
    keyless = edge_settings.model_copy(update={"preview_grant_secret": SecretStr("")})
    with running_edge(keyless, None, tmp_path_factory) as edge:
        for grant in (grant_for(keyless, sha), grant_for(edge_settings, sha)):
            _refused(httpx.get(edge.url + path, headers=_cookie(grant)))
            _refused(httpx.get(edge.url + path, params={"grant": grant}))


def test_an_edge_in_a_new_home_makes_the_key_the_api_signs_with(
    edge_settings: Settings,
    previews_s3: Any,
    sha: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """No DAILIES_PREVIEW_GRANT_SECRET and no key file yet: the edge starting first makes
    {home}/grant-secret (owner-only), and grants made from that file pass."""
    home = tmp_path / "home"
    fresh = edge_settings.model_copy(update={"home": home, "preview_grant_secret": None})
    path = _put(previews_s3, sha, "360p/v1-00008.m4s")
    with running_edge(fresh, None, tmp_path_factory) as edge:
        key_file = home / "grant-secret"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(bytes.fromhex(key_file.read_text().strip())) == 32
        made = issue_grant(key_file.read_text().strip().encode(), sha, time.time(), 60).value
        assert httpx.get(edge.url + path, headers=_cookie(made)).content == SEGMENT
        _refused(httpx.get(edge.url + path, headers=_cookie(grant_for(edge_settings, sha))))


def test_a_short_or_empty_grant_key_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key anyone could guess is a configuration error, not a key: Settings refuses it."""
    from pydantic import ValidationError

    from dailies.settings import Settings

    for weak in ("", "short-key"):
        monkeypatch.setenv("DAILIES_PREVIEW_GRANT_SECRET", weak)
        with pytest.raises(ValidationError, match="preview_grant_secret"):
            Settings()
    monkeypatch.setenv("DAILIES_PREVIEW_GRANT_SECRET", "k" * 16)
    assert Settings().preview_grant_secret is not None
