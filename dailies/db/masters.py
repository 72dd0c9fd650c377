"""The catalog tables (masters, assets, promotion attempts): every read and write of them."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dailies.db.dialect import upsert_insert
from dailies.db.models import Asset, Master, PromotionAttempt
from dailies.handoffs import CopiedMaster, MasterRecord
from dailies.promotion_rules import AssetLink


class PromotionOutcome(enum.StrEnum):
    """What a promotion attempt ended with (promotion_attempts.outcome)."""

    PROMOTED = "promoted"
    ALREADY_PROMOTED = "already_promoted"
    FAILED = "failed"
    # The master is promoted but the asset it named is another editor's: the run fails.
    LINK_REFUSED = "link_refused"


SUCCEEDED = (PromotionOutcome.PROMOTED, PromotionOutcome.ALREADY_PROMOTED)


def get_master(session: Session, sha256: str) -> MasterRecord | None:
    row = session.get(Master, sha256)
    return as_record(row) if row is not None else None


def masters_page(session: Session, after: str | None, limit: int) -> list[MasterRecord]:
    """Catalog rows in sha256 order after `after`: keyset pages on the primary key, as fast
    at the millionth row as at the first (an OFFSET would read every row before it)."""
    query = select(Master).order_by(Master.sha256).limit(limit)
    if after is not None:
        query = query.where(Master.sha256 > after)
    return [as_record(row) for row in session.scalars(query)]


def get_probe(session: Session, sha256: str) -> dict[str, Any] | None:
    """The ffprobe JSON promotion stored for this master, if it could take one. After
    `get_master` in the same session this is the row already loaded: no second query."""
    row = session.get(Master, sha256)
    return row.probe if row is not None else None


def insert_master(
    session: Session,
    secured: CopiedMaster,
    staging_key: str,
    probe: dict[str, Any] | None = None,
) -> bool:
    """Insert unless the sha is already there; True when this call created the row."""
    stmt = (
        upsert_insert(session, Master)
        .values(**dataclasses.asdict(secured), source_staging_key=staging_key, probe=probe)
        .on_conflict_do_nothing(index_elements=["sha256"])
        # RETURNING, not rowcount: an ORM-enabled INSERT may report rowcount -1.
        .returning(Master.sha256)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def link_asset(session: Session, link: AssetLink, sha256: str) -> bool:
    """Point an asset at a master; a re-upload of the asset repoints it. Its owner is the
    key that first linked it, and only that key (or an admin) repoints it: checked by the
    upsert itself, so a promotion queued before another editor linked the same id cannot
    take it over (the API's check at launch is earlier than the write). False: refused."""
    stmt = upsert_insert(session, Asset).values(
        asset_id=link.asset_id,
        master_sha256=sha256,
        attributes=link.attributes,
        owner_key_id=link.owner_key_id,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=["asset_id"],
        set_={"master_sha256": stmt.excluded.master_sha256, "attributes": stmt.excluded.attributes},
        # A concurrent insert of the same id waits for the other transaction and then sees
        # its row here: the owner compared is the committed one.
        where=None if link.repoints_any else Asset.owner_key_id == link.owner_key_id,
    )
    return session.execute(upsert.returning(Asset.asset_id)).scalar_one_or_none() is not None


def record_attempt(
    session: Session,
    sha256: str,
    staging_key: str,
    outcome: PromotionOutcome,
    reason: str | None = None,
    flow_run_id: str | None = None,
) -> None:
    session.add(
        PromotionAttempt(
            sha256=sha256,
            staging_key=staging_key,
            outcome=outcome.value,
            reason=reason,
            flow_run_id=flow_run_id,
        )
    )


def link_refused(session: Session, flow_run_id: str) -> bool:
    """Whether this run recorded that the asset it named was not linked (its failure is
    already on record, with the reason)."""
    found = session.scalar(
        select(PromotionAttempt.id).where(
            PromotionAttempt.flow_run_id == flow_run_id,
            PromotionAttempt.outcome == PromotionOutcome.LINK_REFUSED.value,
        )
    )
    return found is not None


def promotion_result(session: Session, flow_run_id: str) -> dict[str, Any] | None:
    """The masters row a completed run recorded, with its outcome (promoted/already_promoted)."""
    attempt = session.scalars(
        select(PromotionAttempt)
        .where(PromotionAttempt.flow_run_id == flow_run_id)
        .where(PromotionAttempt.outcome.in_([o.value for o in SUCCEEDED]))
        .order_by(PromotionAttempt.id.desc())
    ).first()
    master = get_master(session, attempt.sha256) if attempt else None
    if attempt is None or master is None:
        return None
    return {**master.as_dict(), "status": attempt.outcome}


def as_record(master: Master) -> MasterRecord:
    return MasterRecord(
        **{f.name: getattr(master, f.name) for f in dataclasses.fields(MasterRecord)}
    )


def asset_owner(
    session: Session, asset_id: str, for_update: bool = False
) -> tuple[bool, int | None]:
    """(the asset exists, the key that owns it). `for_update` locks the row until the
    transaction ends: what is written under that lock was checked against its owner."""
    row = session.get(Asset, asset_id, with_for_update=for_update)
    return (row is not None, row.owner_key_id if row is not None else None)


def failed_attempts(session: Session, staging_key: str, sha256: str) -> tuple[int, datetime | None]:
    """How often promoting this key as this sha failed since it last succeeded, and when
    it last failed."""
    last_success = session.scalar(
        select(func.max(PromotionAttempt.id)).where(
            PromotionAttempt.staging_key == staging_key,
            PromotionAttempt.outcome.in_([o.value for o in SUCCEEDED]),
        )
    )
    count, latest = session.execute(
        select(func.count(PromotionAttempt.id), func.max(PromotionAttempt.created_at)).where(
            PromotionAttempt.staging_key == staging_key,
            PromotionAttempt.sha256 == sha256,
            PromotionAttempt.outcome == PromotionOutcome.FAILED.value,
            PromotionAttempt.id > (last_success or 0),
        )
    ).one()
    return int(count), latest


def assets_of(session: Session, sha256: str) -> list[str]:
    return list(session.scalars(select(Asset.asset_id).where(Asset.master_sha256 == sha256)))
