"""Integrity audit findings, a keyset page at a time: the audit's artifacts show the first
ones and point here for the rest (a million-master audit may have a million)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.auth import Principal, require
from api.deps import DbDep
from api.schemas import AUTH_ERRORS, AuditFindingOut, AuditFindingsPageOut, error_responses
from dailies.db import audits
from dailies.errors import UnknownAuditRun

router = APIRouter(prefix="/api/audits", tags=["audits"])

# What the bucket holds and where it is unprotected is for operators, not for editors.
Admin = Annotated[Principal, Depends(require("admin"))]


@router.get(
    "/{run_id}/findings",
    response_model=AuditFindingsPageOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def list_findings(
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    _: Admin,
    db: DbDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditFindingsPageOut:
    """One audit run's findings in id order after `after`; `next_after` is the `after` of
    the next page (null on the last)."""
    run = audits.get_run(db, run_id)
    if run is None:
        raise UnknownAuditRun(f"no audit run {run_id}")
    rows = audits.findings_page(db, run_id, after, limit)
    return AuditFindingsPageOut(
        run_id=run.id,
        status=run.status,
        findings_by_kind=run.findings_by_kind,
        findings=[
            AuditFindingOut(
                id=r.id,
                kind=r.kind,
                key=r.key,
                sha256=r.sha256,
                detail=r.detail,
                critical=r.critical,
            )  # fmt: skip
            for r in rows
        ],
        next_after=rows[-1].id if len(rows) == limit else None,
    )
