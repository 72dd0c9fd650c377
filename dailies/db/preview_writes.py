"""The previews row's SQL writes. Only dailies/previews/lifecycle.py imports this module (the
one owner of a preview's life decides; this executes): tests/test_structure.py checks it."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from dailies.db.dialect import upsert_insert
from dailies.db.models import Preview
from dailies.db.previews import PreviewStatus


def locked_row(session: Session, sha256: str) -> Preview:
    """The row, created as a queued first attempt if missing, locked for this transaction:
    the lifecycle changes it in place and the transaction's commit writes it."""
    session.execute(
        upsert_insert(session, Preview)
        .values(sha256=sha256, status=PreviewStatus.QUEUED.value, attempts=1)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    row = session.get(Preview, sha256, with_for_update=True, populate_existing=True)
    assert row is not None  # inserted or already there, in this transaction
    return row


def update_progress(session: Session, sha256: str, fraction: float) -> None:
    """One statement, no lock: progress ticks must never wait behind a build's other writes."""
    session.execute(
        update(Preview)
        .where(Preview.sha256 == sha256, Preview.status == PreviewStatus.BUILDING.value)
        .values(progress=fraction)
    )


def attach_run(session: Session, sha256: str, attempt: int, flow_run_id: str) -> None:
    """Record the run of an attempt, unless the flow already moved the row on."""
    session.execute(
        update(Preview)
        .where(Preview.sha256 == sha256, Preview.attempts == attempt)
        .where(Preview.flow_run_id.is_(None))
        .values(flow_run_id=flow_run_id)
    )
