"""API tokens: made once, shown once, stored only as a hash; roles nest."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dailies.db.models import ApiKey
from dailies.errors import InvalidRequest

ROLES = ("reviewer", "editor", "admin")  # each includes the ones before it
TOKEN_PREFIX = "dly_"


def role_allows(have: str, need: str) -> bool:
    """admin ⊇ editor ⊇ reviewer; an unknown role allows nothing."""
    if have not in ROLES or need not in ROLES:
        return False
    return ROLES.index(have) >= ROLES.index(need)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain sha256 cannot be brute-forced; a slow
    # password hash would only add latency to every request.
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def display_prefix(token: str) -> str:
    return token[:12]


def create_key(session: Session, role: str, name: str | None = None) -> tuple[ApiKey, str]:
    """Store a new key; return it with the token, which is never retrievable again."""
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    token = new_token()
    key = ApiKey(token_hash=hash_token(token), prefix=display_prefix(token), role=role, name=name)
    session.add(key)
    session.flush()
    return key, token


def find_active_key(session: Session, token: str) -> ApiKey | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return session.scalar(
        select(ApiKey).where(ApiKey.token_hash == hash_token(token), ApiKey.revoked_at.is_(None))
    )


def revoke_key(session: Session, ident: str) -> int:
    """Revoke by id, by display prefix or by the token itself; return how many were revoked."""
    if ident.isdigit():
        condition = ApiKey.id == int(ident)
    elif ident.startswith(TOKEN_PREFIX) and len(ident) > 16:
        condition = ApiKey.token_hash == hash_token(ident)
    else:
        condition = ApiKey.prefix == ident
    revoked = session.execute(
        update(ApiKey)
        .where(condition, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .returning(ApiKey.id)
    )
    return len(revoked.all())


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
