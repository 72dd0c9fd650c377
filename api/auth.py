"""Bearer tokens → a principal with a role; roles nest; every call counts against the
token's rate limit."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from api.deps import DbRunnerDep, get_rate_limiter
from api.limits import RateLimiter
from dailies import revocations
from dailies.db import api_keys
from dailies.errors import Forbidden, Unauthenticated

bearer = HTTPBearer(auto_error=False, description="a token from `dailies keys create`")


@dataclass(frozen=True)
class Principal:
    key_id: int
    role: str
    name: str | None


class TokenCache:
    """Recent token lookups (hits and misses), so a burst of requests from one token
    (the edge's) costs one database query, not one per request."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[Principal | None, float]] = {}
        self._mark: object = None

    def follow(self, mark: object) -> None:
        """Forget every lookup once the revocation mark moved (dailies/revocations.py): a
        token revoked anywhere is refused by the next request, not after the TTL."""
        if mark != self._mark:
            self._entries.clear()
            self._mark = mark

    def get(self, token_hash: str) -> tuple[bool, Principal | None]:
        found = self._entries.get(token_hash)
        if found is None or found[1] < time.monotonic():
            return False, None
        return True, found[0]

    def put(self, token_hash: str, principal: Principal | None) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_hash] = (principal, time.monotonic() + self.ttl_s)


def get_token_cache(request: Request) -> TokenCache:
    return request.app.state.token_cache  # type: ignore[no-any-return]


async def _revocation_mark(request: Request) -> object:
    try:
        return await revocations.current(request.app.state.settings, request.app.state.redis)
    except (RedisError, OSError):
        return object()  # cannot tell: a mark that never matches, so every lookup is fresh


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    db: DbRunnerDep,
    cache: Annotated[TokenCache, Depends(get_token_cache)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
    token = credentials.credentials
    token_hash = api_keys.hash_token(token)
    cache.follow(await _revocation_mark(request))
    cached, principal = cache.get(token_hash)
    if not cached:

        def lookup(session: Session) -> Principal | None:
            key = api_keys.find_active_key(session, token)
            return Principal(key.id, key.role, key.name) if key else None

        principal = await db(lookup)
        cache.put(token_hash, principal)
    if principal is None:
        raise Unauthenticated("unknown or revoked token")
    return principal


def require(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller's principal, if its role includes `role`."""

    async def dependency(
        principal: Annotated[Principal, Depends(authenticate)],
        limiter: Annotated[RateLimiter, Depends(get_rate_limiter)],
    ) -> Principal:
        await limiter.hit(f"key{principal.key_id}")
        if not api_keys.role_allows(principal.role, role):
            raise Forbidden(f"this needs the {role} role; the token's role is {principal.role}")
        return principal

    return dependency


Reviewer = Annotated[Principal, Depends(require("reviewer"))]
Editor = Annotated[Principal, Depends(require("editor"))]
