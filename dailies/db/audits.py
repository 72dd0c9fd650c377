"""The audit tables (audit_runs, audit_findings), the catalog read in keyset pages, and the
masters' verification columns. Every query here is index-backed (migration 0008;
tests/test_audit_indexes.py reads their plans at tens of thousands of rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, tuple_, update
from sqlalchemy.orm import Session

from dailies.audit_rules import CatalogEntry, Finding, Shard
from dailies.db.models import AuditFinding, AuditRun, Master

_CATALOG = (
    Master.sha256,
    Master.masters_key,
    Master.size_bytes,
    Master.retention_mode,
    Master.retain_until,
    Master.last_verified_at,
)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _key_order(session: Session) -> Any:
    """masters_key compared byte by byte, as S3 lists keys. Postgres' default collation
    (en_US and the like) would put `B` before `a`, out of the listing's order; the index
    ix_masters_masters_key is built on the same "C" collation so this still uses it."""
    if _postgres(session):
        return Master.masters_key.collate("C")
    return Master.masters_key  # SQLite compares TEXT bytewise (BINARY) already


def catalog_page(
    session: Session, shard: Shard, after_key: str | None, limit: int
) -> list[CatalogEntry]:
    """The shard's next `limit` catalog rows in key order, after `after_key` (keyset)."""
    key = _key_order(session)
    query = select(*_CATALOG).where(*_in_shard(key, shard))
    if after_key is not None:
        query = query.where(key > after_key)
    rows = session.execute(query.order_by(key).limit(limit)).all()
    return [CatalogEntry(*row) for row in rows]


def _in_shard(key: Any, shard: Shard) -> list[Any]:
    """[prefix, after_prefix): the keys that start with the prefix, as an index range."""
    bounds = [key >= shard.prefix] if shard.prefix else []
    if shard.after_prefix is not None:
        bounds.append(key < shard.after_prefix)
    return bounds


def open_run(session: Session, flow_run_id: str | None) -> int:
    run = AuditRun(flow_run_id=flow_run_id, findings_by_kind={}, status="running")
    session.add(run)
    session.flush()
    return run.id


def record_findings(session: Session, run_id: int, findings: Sequence[Finding]) -> None:
    session.add_all(
        AuditFinding(
            run_id=run_id,
            kind=f.kind,
            key=f.key,
            sha256=f.sha256,
            detail=f.detail,
            critical=f.critical,
        )
        for f in findings
    )


def clear_shard_findings(session: Session, run_id: int, shard: Shard) -> None:
    """Forget what an earlier try of this shard recorded for this run (a retried task)."""
    key = AuditFinding.key.collate("C") if _postgres(session) else AuditFinding.key
    session.execute(
        delete(AuditFinding).where(AuditFinding.run_id == run_id, *_in_shard(key, shard))
    )


def findings_page(session: Session, run_id: int, after_id: int, limit: int) -> list[AuditFinding]:
    """One run's findings in id order after `after_id` (keyset on ix_audit_findings_run_id_id)."""
    return list(
        session.scalars(
            select(AuditFinding)
            .where(AuditFinding.run_id == run_id, AuditFinding.id > after_id)
            .order_by(AuditFinding.id)
            .limit(limit)
        )
    )


def get_run(session: Session, run_id: int) -> AuditRun | None:
    return session.get(AuditRun, run_id)


def rehash_page(
    session: Session, run_id: int, after: CatalogEntry | None, limit: int
) -> list[CatalogEntry]:
    """The next `limit` masters in re-hash order (never verified first, by sha256; then
    oldest verified) after `after`, skipping those this run found missing or resized.
    Two keyset queries on ix_masters_last_verified_at_sha256: NULLs, then the dated ones."""
    flagged = exists().where(
        AuditFinding.run_id == run_id,
        AuditFinding.key == Master.masters_key,
        AuditFinding.kind.in_(("missing", "size_mismatch")),
    )
    base = select(*_CATALOG).where(~flagged)
    rows: list[Any] = []
    if after is None or after.last_verified_at is None:
        never = base.where(Master.last_verified_at.is_(None))
        if after is not None:
            never = never.where(Master.sha256 > after.sha256)
        # ordered as the index is (all NULL here): the scan reads it in order, no sort
        never = never.order_by(Master.last_verified_at, Master.sha256)
        rows = list(session.execute(never.limit(limit)).all())
        if len(rows) == limit:
            return [CatalogEntry(*row) for row in rows]
        after = None
    dated = base.where(Master.last_verified_at.is_not(None))
    if after is not None:
        dated = dated.where(
            tuple_(Master.last_verified_at, Master.sha256)
            > tuple_(after.last_verified_at, after.sha256)  # type: ignore[arg-type]
        )
    dated = dated.order_by(Master.last_verified_at, Master.sha256).limit(limit - len(rows))
    rows += session.execute(dated).all()
    return [CatalogEntry(*row) for row in rows]


def finish_run(
    session: Session,
    run_id: int,
    finished_at: datetime,
    checked: int,
    bytes_hashed: int,
    counts: Mapping[str, int],
    verified: Mapping[str, bool],
) -> None:
    """The run's totals, and each re-hashed master's last_verified_at."""
    session.execute(
        update(AuditRun)
        .where(AuditRun.id == run_id)
        .values(
            finished_at=finished_at,
            objects_checked=checked,
            bytes_hashed=bytes_hashed,
            findings_by_kind=dict(counts),
            status="findings" if any(counts.values()) else "clean",
        )
    )
    for sha, ok in verified.items():
        session.execute(
            update(Master)
            .where(Master.sha256 == sha)
            .values(last_verified_at=finished_at, last_verified_ok=ok)
        )
