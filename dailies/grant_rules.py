"""Preview grants: a short-lived, sha-scoped permission to watch, signed by the API and
checked by the edge itself (edge/njs/dailies.js mirrors `verify_grant`), so segments cost
no API round-trip.

A grant is `{expires}.{mac}`: `expires` a Unix time in seconds, `mac` the hex
HMAC-SHA256 of `{sha256}:{expires}` under the deployment's grant secret. Nothing else is in
it: the sha it is for is the URL it is presented on, so a grant for one master verifies
for no other."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

COOKIE_NAME = "dailies_grant"
QUERY_PARAM = "grant"
_GRANT = re.compile(r"([0-9]{1,12})\.([0-9a-f]{64})")


@dataclass(frozen=True)
class Grant:
    value: str
    expires: int


def grant_mac(secret: bytes, sha256: str, expires: int) -> str:
    return hmac.new(secret, f"{sha256}:{expires}".encode(), hashlib.sha256).hexdigest()


def issue_grant(secret: bytes, sha256: str, now: float, ttl_s: int) -> Grant:
    expires = int(now) + ttl_s
    return Grant(f"{expires}.{grant_mac(secret, sha256, expires)}", expires)


def verify_grant(secret: bytes, sha256: str, value: str | None, now: float) -> bool:
    """What the edge checks: well-formed, not expired, signed for this sha."""
    found = _GRANT.fullmatch(value or "")
    if found is None or int(found.group(1)) <= now:
        return False
    return hmac.compare_digest(found.group(2), grant_mac(secret, sha256, int(found.group(1))))


def grant_cookie(grant: Grant, sha256: str, ttl_s: int, secure: bool) -> str:
    """The Set-Cookie value: sent back only for this master's previews (Path), never to
    scripts (HttpOnly), not on other sites' subrequests (SameSite=Lax)."""
    parts = [
        f"{COOKIE_NAME}={grant.value}",
        f"Path=/previews/{sha256}/",
        f"Max-Age={ttl_s}",
        "HttpOnly",
        "SameSite=Lax",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
