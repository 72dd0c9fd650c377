"""Datetimes come back timezone-aware on SQLite (the embedded default) as on Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from dailies.db.models import Base, Master


def test_sqlite_round_trips_aware_utc(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    Base.metadata.create_all(engine)
    paris = timezone(timedelta(hours=1))
    with Session(engine) as session, session.begin():
        session.add(
            Master(
                sha256="a" * 64,
                size_bytes=1,
                masters_key="a" * 64,
                retention_mode="COMPLIANCE",
                retain_until=datetime(2030, 1, 1, 13, 0, tzinfo=paris),
                source_staging_key="uploads/x/y",
            )
        )
    with Session(engine) as session:
        row = session.get(Master, "a" * 64)
        assert row.retain_until == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
        assert row.retain_until.tzinfo is not None
        assert row.promoted_at.tzinfo is not None
    engine.dispose()
