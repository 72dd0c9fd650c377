"""The API's side of preview grants, through the real edge and API: POST /api/preview answers a
reviewer with a grant (cookie and body) that the edge accepts for that sha only; nobody
else gets one. Also what a grant costs the POST (the first-play budget is 2 s)."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dailies.grant_rules import COOKIE_NAME, grant_cookie, issue_grant, verify_grant
from dailies.grant_secret import grant_secret
from dailies.settings import Settings
from ops.processes import Service
from tests.api.conftest import insert_master
from tests.security.conftest import BUCKET

logger = logging.getLogger("tests.grants")


@pytest.fixture
def reviewer_at_edge(edge: Service, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
    with httpx.Client(base_url=edge.url, headers=headers, timeout=30) as http:
        yield http


def _cookie_attributes(header: str) -> dict[str, str]:
    attributes = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


def test_a_reviewer_gets_a_grant_for_that_sha_only(
    reviewer_at_edge: httpx.Client,
    edge: Service,
    stack: Any,
    edge_settings: Settings,
    previews_s3: Any,
) -> None:
    sha = insert_master(stack, {"status": "ready", "manifest_key": "manifest.m3u8"})
    other = insert_master(stack, {"status": "ready", "manifest_key": "manifest.m3u8"})
    for key in (sha, other):
        previews_s3.put_object(Bucket=BUCKET, Key=f"{key}/manifest.m3u8", Body=b"#EXTM3U\n")

    answer = reviewer_at_edge.post("/api/preview", json={"sha": sha})
    assert answer.status_code == 200, answer.text
    cookie = _cookie_attributes(answer.headers["set-cookie"])
    assert cookie[COOKIE_NAME] == answer.json()["grant"]
    assert cookie["path"] == f"/previews/{sha}/"
    assert cookie["max-age"] == str(stack.preview_grant_ttl_s)
    assert {"httponly", "samesite"} <= set(cookie) and cookie["samesite"] == "Lax"
    assert "secure" not in cookie  # an http edge: a Secure cookie would never come back
    secret = grant_secret(edge_settings)
    now = time.time()
    assert verify_grant(secret, sha, cookie[COOKIE_NAME], now)
    assert not verify_grant(secret, other, cookie[COOKIE_NAME], now)
    ttl = stack.preview_grant_ttl_s
    assert answer.json()["grant_expires_at"] - now == pytest.approx(ttl, abs=5)

    # The client's cookie jar sends it back for this sha's previews and nothing else.
    assert reviewer_at_edge.get(f"/previews/{sha}/manifest.m3u8").status_code == 200
    assert reviewer_at_edge.get(f"/previews/{other}/manifest.m3u8").status_code == 403
    # Without cookies: ?grant= from the answer's body.
    with httpx.Client(base_url=edge.url) as bare:
        assert bare.get(f"/previews/{sha}/manifest.m3u8").status_code == 403
        by_query = bare.get(f"/previews/{sha}/manifest.m3u8", params={"grant": cookie[COOKIE_NAME]})
        assert by_query.status_code == 200


def test_no_grant_for_strangers_or_unknown_masters(
    edge: Service, reviewer_at_edge: httpx.Client, stack: Any
) -> None:
    sha = insert_master(stack, {"status": "ready", "manifest_key": "manifest.m3u8"})
    with httpx.Client(base_url=edge.url) as anonymous:
        refused = anonymous.post("/api/preview", json={"sha": sha})
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
        wrong = anonymous.post(
            "/api/preview", json={"sha": sha}, headers={"Authorization": "Bearer dly_nope"}
        )
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    unknown = reviewer_at_edge.post("/api/preview", json={"sha": "c" * 64})
    assert unknown.status_code == 404 and "set-cookie" not in unknown.headers


def test_the_status_answer_grants_that_sha_too_and_strangers_nothing(
    edge: Service, reviewer_at_edge: httpx.Client, stack: Any, edge_settings: Settings,
    previews_s3: Any,
) -> None:  # fmt: skip
    """GET /api/preview/{sha} answers at once with a grant, so the page shows the poster
    promotion made before any build is playable; the same cookie as POST's, for that sha
    only, and none without a reviewer token or for an unknown master."""
    sha = insert_master(stack)  # promoted, never asked for: no previews row
    previews_s3.put_object(Bucket=BUCKET, Key=f"{sha}/first/poster.jpg", Body=b"\xff\xd8")
    with httpx.Client(base_url=edge.url) as bare:
        assert bare.get(f"/previews/{sha}/first/poster.jpg").status_code == 403
    status = reviewer_at_edge.get(f"/api/preview/{sha}")
    assert status.status_code == 200 and status.json()["status"] == "missing", status.text
    cookie = _cookie_attributes(status.headers["set-cookie"])
    assert cookie["path"] == f"/previews/{sha}/"
    assert {"httponly", "samesite"} <= set(cookie)
    assert verify_grant(grant_secret(edge_settings), sha, cookie[COOKIE_NAME], time.time())
    assert reviewer_at_edge.get(f"/previews/{sha}/first/poster.jpg").status_code == 200
    with httpx.Client(base_url=edge.url) as anonymous:
        refused = anonymous.get(f"/api/preview/{sha}")
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
    unknown = reviewer_at_edge.get(f"/api/preview/{'c' * 64}")
    assert unknown.status_code == 404 and "set-cookie" not in unknown.headers


def test_what_a_grant_costs_the_post(
    reviewer_at_edge: httpx.Client, stack: Any, edge_settings: Settings, previews_s3: Any
) -> None:
    """Signing is one HMAC: measured alone (what the grant adds to the POST) and against
    the whole POST through the edge, for the first-play budget's note; and the edge's check
    per object (a cached segment against the edge's own health answer)."""
    secret = grant_secret(edge_settings)
    sha = insert_master(stack, {"status": "ready", "manifest_key": "manifest.m3u8"})
    rounds = 5000
    started = time.perf_counter()
    for _ in range(rounds):
        grant = issue_grant(secret, sha, time.time(), 3600)
        grant_cookie(grant, sha, 3600, secure=False)
    per_grant_us = (time.perf_counter() - started) / rounds * 1e6

    posts = []
    for _ in range(20):
        asked = time.perf_counter()
        assert reviewer_at_edge.post("/api/preview", json={"sha": sha}).status_code == 200
        posts.append((time.perf_counter() - asked) * 1000)
    post_ms = statistics.median(posts)

    previews_s3.put_object(Bucket=BUCKET, Key=f"{sha}/360p/v1-00001.m4s", Body=b"s" * 4096)
    segment = f"/previews/{sha}/360p/v1-00001.m4s"
    assert reviewer_at_edge.get(segment).status_code == 200  # now cached

    def median_ms(path: str) -> float:
        took = []
        for _ in range(100):
            asked = time.perf_counter()
            assert reviewer_at_edge.get(path).status_code == 200
            took.append((time.perf_counter() - asked) * 1000)
        return statistics.median(took)

    hit_ms, health_ms = median_ms(segment), median_ms("/_edge/health")
    logger.warning(
        "grant cost: %.1f us to sign and build the cookie; POST /api/preview (ready) "
        "through the edge: median %.1f ms over %d; a cached segment with its grant "
        "checked: median %.2f ms (the edge's static health answer: %.2f ms)",
        per_grant_us,
        post_ms,
        len(posts),
        hit_ms,
        health_ms,
    )
    # A grant must be noise against the 2 s first-play budget (and against the POST).
    assert per_grant_us < 1000
    assert per_grant_us / 1000 < post_ms


def test_the_cookie_is_secure_when_the_edge_is_https(
    api_settings: Any, tokens: dict[str, str], stack: Any
) -> None:
    """The API reads the edge's public URL (DAILIES_EDGE_URL): behind an https edge the
    browser must not send the grant over plain http."""
    from api.app import create_app
    from tests.api.conftest import serve

    sha = insert_master(stack, {"status": "ready", "manifest_key": "manifest.m3u8"})
    settings = api_settings.model_copy(update={"edge_url": "https://review.example"})
    with serve(create_app(settings)) as url:
        headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
        answer = httpx.post(f"{url}/api/preview", json={"sha": sha}, headers=headers)
    assert answer.status_code == 200, answer.text
    cookie = _cookie_attributes(answer.headers["set-cookie"])
    assert "secure" in cookie and cookie[COOKIE_NAME] == answer.json()["grant"]
