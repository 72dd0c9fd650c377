"""The notes and approvals tables: reviewers' notes on a master's frames, and each reviewer's
verdict on it. Who may change what is decided by dailies/note_rules.py, before these run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from dailies.db.dialect import upsert_insert
from dailies.db.models import Approval, Master, Note, Preview
from dailies.errors import UnknownMaster
from dailies.note_rules import MasterTimingUnknown
from dailies.probe_timing import MasterTiming, timing_from_preview, timing_from_probe


def master_exists(session: Session, sha256: str) -> None:
    if session.get(Master, sha256) is None:
        raise UnknownMaster(f"no master with sha256 {sha256}")


def master_timing(session: Session, sha256: str) -> MasterTiming:
    """The master's source timing: from the probe promotion stored, else from what its
    preview's build measured. Unknown master: UnknownMaster; neither says: a 422."""
    master = session.get(Master, sha256)
    if master is None:
        raise UnknownMaster(f"no master with sha256 {sha256}")
    timing = timing_from_probe(master.probe)
    if timing is None:
        preview = session.get(Preview, sha256)
        if preview is not None:
            timing = timing_from_preview(
                preview.start_timecode, preview.frame_rate, preview.duration_s
            )
    if timing is None:
        raise MasterTimingUnknown(
            f"master {sha256[:12]} has no known frame rate and length (no probe, no preview "
            "built): notes cannot be placed on its frames yet"
        )
    return timing


def add_note(
    session: Session,
    sha256: str,
    frame_in: int,
    frame_out: int | None,
    text: str,
    drawing: dict[str, Any] | None,
    author_key_id: int,
    author_name: str | None,
    parent_id: int | None = None,
) -> Note:
    row = Note(
        sha256=sha256, parent_id=parent_id, frame_in=frame_in, frame_out=frame_out,
        text=text, drawing=drawing, author_key_id=author_key_id, author_name=author_name,
        resolved=False,
    )  # fmt: skip
    session.add(row)
    session.flush()
    session.refresh(row)  # created_at from the server's clock
    return row


def get_note(
    session: Session, sha256: str, note_id: int, *, for_update: bool = False
) -> Note | None:
    row = session.get(Note, note_id, with_for_update=for_update)
    return row if row is not None and row.sha256 == sha256 else None


def page_of_notes(session: Session, sha256: str, after: int, limit: int) -> list[Note]:
    """Up to `limit` notes (not replies) after id `after`, in id order."""
    return list(
        session.scalars(
            select(Note)
            .where(Note.sha256 == sha256, Note.parent_id.is_(None), Note.id > after)
            .order_by(Note.id)
            .limit(limit)
        )
    )


def replies_to(session: Session, note_ids: list[int]) -> dict[int, list[Note]]:
    found: dict[int, list[Note]] = {note_id: [] for note_id in note_ids}
    if not note_ids:
        return found
    for row in session.scalars(select(Note).where(Note.parent_id.in_(note_ids)).order_by(Note.id)):
        found[row.parent_id or 0].append(row)
    return found


def all_notes(session: Session, sha256: str) -> list[Note]:
    """Every note and reply of a master, in id order: what the exports write."""
    return list(session.scalars(select(Note).where(Note.sha256 == sha256).order_by(Note.id)))


def edit_note(
    row: Note, text: str | None, drawing: dict[str, Any] | None, clear_drawing: bool
) -> Note:
    if text is not None:
        row.text = text
    if drawing is not None or clear_drawing:
        row.drawing = drawing
    row.updated_at = datetime.now(UTC)
    return row


def delete_note(session: Session, row: Note) -> None:
    """The note and its replies."""
    session.execute(delete(Note).where(or_(Note.id == row.id, Note.parent_id == row.id)))


def set_resolved(row: Note, resolved: bool, key_id: int, name: str | None) -> Note:
    row.resolved = resolved
    row.resolved_by_key_id = key_id if resolved else None
    row.resolved_by_name = name if resolved else None
    row.resolved_at = datetime.now(UTC) if resolved else None
    return row


def note_as_dict(row: Note) -> dict[str, Any]:
    return {
        "note_id": row.id,
        "sha256": row.sha256,
        "parent_id": row.parent_id,
        "frame_in": row.frame_in,
        "frame_out": row.frame_out,
        "drawing": row.drawing,
        "text": row.text,
        "author_key_id": row.author_key_id,
        "author": row.author_name,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "resolved": row.resolved,
        "resolved_by": row.resolved_by_name,
        "resolved_at": row.resolved_at,
    }


def set_approval(
    session: Session, sha256: str, key_id: int, name: str | None, role: str, status: str
) -> str:
    """Record the reviewer's status; returns the one it replaces ('none' if there was none).
    The row is made if missing (ON CONFLICT: a second request racing the first waits for it)
    and then locked while it changes, so two requests of one reviewer see each other's."""
    session.execute(
        upsert_insert(session, Approval)
        .values(sha256=sha256, key_id=key_id, name=name, role=role, status="none")
        .on_conflict_do_nothing(index_elements=["sha256", "key_id"])
    )
    row = session.get(Approval, (sha256, key_id), with_for_update=True, populate_existing=True)
    assert row is not None  # made above if it was missing
    previous = row.status
    row.status, row.name, row.role = status, name, role
    row.updated_at = datetime.now(UTC)
    return previous


def approvals_of(session: Session, sha256: str, key_id: int | None = None) -> list[Approval]:
    query = select(Approval).where(Approval.sha256 == sha256)
    if key_id is not None:
        query = query.where(Approval.key_id == key_id)
    return list(session.scalars(query.order_by(Approval.key_id)))
