"""INSERT … ON CONFLICT for the two databases we run on (Postgres, SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_insert(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has on_conflict_do_nothing / on_conflict_do_update."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")
