"""Reads and writes of the manifest tables (masters, assets, promotion attempts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dailies.db.dialect import upsert_insert
from dailies.db.models import Asset, Master, PromotionAttempt


def get_master(session: Session, sha256: str) -> Master | None:
    return session.get(Master, sha256)


def insert_master(session: Session, values: dict[str, Any]) -> bool:
    """Insert unless the sha is already there; True when this call created the row."""
    stmt = (
        upsert_insert(session, Master)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["sha256"])
        # RETURNING, not rowcount: an ORM-enabled INSERT may report rowcount -1.
        .returning(Master.sha256)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def link_asset(session: Session, asset_id: str, sha256: str, attributes: dict[str, Any]) -> None:
    """Point an asset at a master; a re-upload of the asset repoints it."""
    stmt = upsert_insert(session, Asset).values(
        asset_id=asset_id, master_sha256=sha256, attributes=attributes
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["asset_id"],
        set_={"master_sha256": stmt.excluded.master_sha256, "attributes": stmt.excluded.attributes},
    )
    session.execute(stmt)


def record_attempt(
    session: Session,
    sha256: str,
    staging_key: str,
    outcome: str,
    reason: str | None = None,
    flow_run_id: str | None = None,
) -> None:
    session.add(
        PromotionAttempt(
            sha256=sha256,
            staging_key=staging_key,
            outcome=outcome,
            reason=reason,
            flow_run_id=flow_run_id,
        )
    )


def master_as_dict(master: Master) -> dict[str, Any]:
    return {
        "sha256": master.sha256,
        "size_bytes": master.size_bytes,
        "masters_key": master.masters_key,
        "version_id": master.version_id,
        "etag": master.etag,
        "retention_mode": master.retention_mode,
        "retain_until": _iso(master.retain_until),
        "source_staging_key": master.source_staging_key,
        "promoted_at": _iso(master.promoted_at),
        "last_verified_at": _iso(master.last_verified_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def assets_of(session: Session, sha256: str) -> list[str]:
    return list(session.scalars(select(Asset.asset_id).where(Asset.master_sha256 == sha256)))
