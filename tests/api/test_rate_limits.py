"""Per-token rate limits: 429 with Retry-After, other tokens unaffected."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.api.conftest import serve

SHA = "d" * 64


@pytest.mark.parametrize("redis_url", ["configured", None])
def test_over_the_limit_is_429_with_retry_after(
    api_settings: Any, tokens: dict[str, str], redis_url: str | None
) -> None:
    # An hour-long fixed window: four requests straddle its edge (and escape the limit)
    # with a chance of seconds/3600 even on a busy machine, not seconds/30.
    update: dict[str, Any] = {"rate_limit_requests": 3, "rate_limit_window_s": 3600}
    if redis_url is None:
        update["redis_url"] = None
    settings = api_settings.model_copy(update=update)
    with serve(create_app(settings)) as url:

        def get(role: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            return httpx.get(f"{url}/api/preview/{SHA}", headers=headers)

        assert [get("reviewer").status_code for _ in range(3)] == [404, 404, 404]
        limited = get("reviewer")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 3600
        assert "rate limit" in limited.json()["detail"]
        assert get("editor").status_code == 404  # limits are per token
