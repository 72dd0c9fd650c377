"""Notes on a master's frames. Reviewers write notes and replies and change only their own
(admins anyone's); editors resolve. Exports (notes_exports.py) give the notes to an NLE at the
master's source timecode; approvals are notes_approvals.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from api.auth import Editor, Principal, Reviewer
from api.deps import DbDep, SettingsDep
from api.json_body import StrictJsonRoute
from api.note_schemas import (
    NoteCreateBody,
    NoteEditBody,
    NoteOut,
    NotePageOut,
    ReplyCreateBody,
    TimingOut,
)
from api.schemas import AUTH_ERRORS, error_responses
from dailies import note_rules
from dailies.clients import session_scope
from dailies.db import notes
from dailies.db.models import Note
from dailies.errors import Forbidden
from dailies.hashing import normalize_sha256
from dailies.note_rules import NoteNotFound, ReplyNotAllowed
from dailies.probe_timing import MasterTiming

router = APIRouter(prefix="/api/masters", tags=["notes"], route_class=StrictJsonRoute)

Sha = Annotated[str, Path(max_length=200)]
NoteId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _note_out(row: Note, timing: MasterTiming, replies: list[Note] | None = None) -> NoteOut:
    fields = notes.note_as_dict(row)
    return NoteOut(
        **fields,
        timecode_in=timing.label_at(row.frame_in),
        timecode_out=timing.label_at(row.frame_out) if row.frame_out is not None else None,
        replies=[_note_out(reply, timing) for reply in replies or []],
    )


def _timing_out(timing: MasterTiming) -> TimingOut:
    rate = timing.source.frame_rate
    return TimingOut(
        start_timecode=timing.source.start_timecode,
        frame_rate=f"{rate.numerator}/{rate.denominator}",
        drop_frame=timing.source.rate.drop_frame,
        frame_count=timing.frame_count,
    )


@router.get(
    "/{sha256}/notes", response_model=NotePageOut, responses=error_responses(404, *AUTH_ERRORS)
)
def list_notes(
    sha256: Sha,
    _: Reviewer,
    db: DbDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=note_rules.NOTES_PAGE_MAX)] = (
        note_rules.NOTES_PAGE_DEFAULT
    ),
) -> NotePageOut:
    """A master's notes in the order they were made, each with its replies, a page at a
    time: `?after=` the last note id of the previous page (`next_after`)."""
    sha = normalize_sha256(sha256)
    timing = notes.master_timing(db, sha)
    rows = notes.page_of_notes(db, sha, after, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    replies = notes.replies_to(db, [row.id for row in page])
    return NotePageOut(
        timing=_timing_out(timing),
        notes=[_note_out(row, timing, replies[row.id]) for row in page],
        next_after=page[-1].id if more else None,
    )


@router.post(
    "/{sha256}/notes",
    status_code=201,
    response_model=NoteOut,
    responses=error_responses(404, 413, *AUTH_ERRORS),
)
def create_note(
    sha256: Sha, body: NoteCreateBody, reviewer: Reviewer, settings: SettingsDep
) -> NoteOut:
    """A note at a frame, or over frames `frame_in`..`frame_out` (inclusive), optionally with
    a drawing over the picture (strokes of points in 0..1 of the frame)."""
    sha = normalize_sha256(sha256)
    text = note_rules.clean_text(body.text)
    with session_scope(settings) as db:
        timing = notes.master_timing(db, sha)
        note_rules.check_frames(body.frame_in, body.frame_out, timing.frame_count)
        drawing = body.drawing.model_dump() if body.drawing else None
        row = notes.add_note(
            db, sha, body.frame_in, body.frame_out, text, drawing, reviewer.key_id, reviewer.name
        )
        return _note_out(row, timing)


@router.post(
    "/{sha256}/notes/{note_id}/replies",
    status_code=201,
    response_model=NoteOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def reply_to_note(
    sha256: Sha, note_id: NoteId, body: ReplyCreateBody, reviewer: Reviewer, settings: SettingsDep
) -> NoteOut:
    """A reply to a note (not to a reply: one level), on the note's frames."""
    sha = normalize_sha256(sha256)
    text = note_rules.clean_text(body.text)
    with session_scope(settings) as db:
        timing = notes.master_timing(db, sha)
        parent = _note(db, sha, note_id)
        if parent.parent_id is not None:
            raise ReplyNotAllowed(f"note {note_id} is a reply: answer note {parent.parent_id}")
        row = notes.add_note(
            db, sha, parent.frame_in, parent.frame_out, text, None,
            reviewer.key_id, reviewer.name, parent_id=parent.id,
        )  # fmt: skip
        return _note_out(row, timing)


def _note(db: Any, sha: str, note_id: int, *, for_update: bool = False) -> Note:
    row = notes.get_note(db, sha, note_id, for_update=for_update)
    if row is None:
        raise NoteNotFound(f"no note {note_id} on master {sha[:12]}")
    return row


def _own(row: Note, who: Principal) -> None:
    if not note_rules.may_edit(row.author_key_id, who.key_id, who.role):
        raise Forbidden(f"note {row.id} is another reviewer's: only its author (or an admin)")


@router.patch(
    "/{sha256}/notes/{note_id}",
    response_model=NoteOut,
    responses=error_responses(404, 413, *AUTH_ERRORS),
)
def edit_note(
    sha256: Sha, note_id: NoteId, body: NoteEditBody, reviewer: Reviewer, settings: SettingsDep
) -> NoteOut:
    """Change a note's text or drawing (`"drawing": null` removes it). Its author's only."""
    sha = normalize_sha256(sha256)
    text = note_rules.clean_text(body.text) if body.text is not None else None
    clear = "drawing" in body.model_fields_set and body.drawing is None
    with session_scope(settings) as db:
        timing = notes.master_timing(db, sha)
        row = _note(db, sha, note_id, for_update=True)
        _own(row, reviewer)
        if row.parent_id is not None and (body.drawing is not None):
            raise ReplyNotAllowed("a reply has no drawing: draw on the note")
        drawing = body.drawing.model_dump() if body.drawing else None
        return _note_out(notes.edit_note(row, text, drawing, clear), timing)


@router.delete(
    "/{sha256}/notes/{note_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, *AUTH_ERRORS),
)
def delete_note(
    sha256: Sha, note_id: NoteId, reviewer: Reviewer, settings: SettingsDep
) -> Response:
    """Delete a note (and its replies). Its author's only."""
    sha = normalize_sha256(sha256)
    with session_scope(settings) as db:
        row = _note(db, sha, note_id, for_update=True)
        _own(row, reviewer)
        notes.delete_note(db, row)
    return Response(status_code=204)


def _resolve(sha256: str, note_id: int, editor: Principal, settings: Any, done: bool) -> NoteOut:
    sha = normalize_sha256(sha256)
    with session_scope(settings) as db:
        timing = notes.master_timing(db, sha)
        row = _note(db, sha, note_id, for_update=True)
        if row.parent_id is not None:
            raise ReplyNotAllowed(f"note {note_id} is a reply: resolve note {row.parent_id}")
        return _note_out(notes.set_resolved(row, done, editor.key_id, editor.name), timing)


@router.post(
    "/{sha256}/notes/{note_id}/resolve",
    response_model=NoteOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def resolve_note(sha256: Sha, note_id: NoteId, editor: Editor, settings: SettingsDep) -> NoteOut:
    """Mark a note done (editors and admins)."""
    return _resolve(sha256, note_id, editor, settings, True)


@router.post(
    "/{sha256}/notes/{note_id}/unresolve",
    response_model=NoteOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def unresolve_note(sha256: Sha, note_id: NoteId, editor: Editor, settings: SettingsDep) -> NoteOut:
    """Open a resolved note again (editors and admins)."""
    return _resolve(sha256, note_id, editor, settings, False)
