"""Preview grants for tests: what the API would hand a reviewer, made with the home's key."""

from __future__ import annotations

import re
import time
from collections.abc import Generator

import httpx

from dailies.grant_rules import COOKIE_NAME, issue_grant
from dailies.grant_secret import grant_secret
from dailies.settings import Settings

_PREVIEW = re.compile(r"^/previews/([0-9a-f]{64})/")


def grant_for(settings: Settings, sha: str, ttl_s: int = 600, now: float | None = None) -> str:
    return issue_grant(
        grant_secret(settings), sha, time.time() if now is None else now, ttl_s
    ).value


class GrantAuth(httpx.Auth):
    """Adds a valid grant cookie to every /previews/{sha}/ request, as a browser holding
    one would: for tests of the edge that are not about grants."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        found = _PREVIEW.match(request.url.path)
        if found and COOKIE_NAME not in request.headers.get("cookie", ""):
            grant = f"{COOKIE_NAME}={grant_for(self.settings, found[1])}"
            others = request.headers.get("cookie")
            request.headers["Cookie"] = f"{others}; {grant}" if others else grant
        yield request
