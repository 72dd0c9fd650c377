"""The audit tables (audit_runs, audit_findings) and the masters' verification columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dailies.audit_rules import CatalogEntry, Finding, count_by_kind
from dailies.db.models import AuditFinding, AuditRun, Master


def catalog_entries(session: Session) -> list[CatalogEntry]:
    rows = session.execute(
        select(
            Master.sha256,
            Master.masters_key,
            Master.size_bytes,
            Master.retention_mode,
            Master.retain_until,
            Master.last_verified_at,
        )
    ).all()
    return [CatalogEntry(*row) for row in rows]


def record_run(
    session: Session,
    flow_run_id: str | None,
    finished_at: datetime,
    checked: int,
    bytes_hashed: int,
    findings: Sequence[Finding],
    verified: dict[str, bool],
) -> int:
    """audit_runs + audit_findings rows and each re-hashed master's last_verified_at."""
    run = AuditRun(
        flow_run_id=flow_run_id,
        finished_at=finished_at,
        objects_checked=checked,
        bytes_hashed=bytes_hashed,
        findings_by_kind=count_by_kind(findings),
        status="findings" if findings else "clean",
    )
    session.add(run)
    session.flush()
    session.add_all(
        AuditFinding(
            run_id=run.id,
            kind=f.kind,
            key=f.key,
            sha256=f.sha256,
            detail=f.detail,
            critical=f.critical,
        )
        for f in findings
    )
    for sha, ok in verified.items():
        session.execute(
            update(Master)
            .where(Master.sha256 == sha)
            .values(last_verified_at=finished_at, last_verified_ok=ok)
        )
    return run.id
