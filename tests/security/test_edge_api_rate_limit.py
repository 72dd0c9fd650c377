"""Requests to /api/ without a token are rate-limited per client address at the edge
(the API limits per token, and an anonymous caller has none). A module of its own: the
edge, and so its counters, are fresh here."""

from __future__ import annotations

import httpx

from tests.edge.counting_origin import FakeApi


def test_anonymous_api_traffic_is_limited_per_address(
    client: httpx.Client, fake_api: FakeApi, sha: str
) -> None:
    answers = [client.get(f"/api/preview/{sha}") for _ in range(100)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    assert limited[0].json()["detail"]
    assert int(limited[0].headers["retry-after"]) >= 1
    # The refused ones were answered by the edge, not forwarded.
    forwarded = [s for s in fake_api.seen if s[1] == f"/api/preview/{sha}"]
    assert len(forwarded) == 100 - len(limited)

    # A reviewer with a token on the same address is still served (the API limits it).
    with_token = client.get(f"/api/preview/{sha}", headers={"Authorization": "Bearer tok"})
    assert with_token.status_code == 200
