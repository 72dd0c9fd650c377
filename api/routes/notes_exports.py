"""A master's notes exported for an NLE: CSV, CMX3600 EDL markers and FCPXML to-do markers,
at the master's source timecode and rate (the pure formats are dailies/note_exports.py). Any
reviewer reads them, as the notes themselves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from api.auth import Reviewer
from api.deps import DbDep
from api.json_body import StrictJsonRoute
from api.routes.notes import Sha
from api.schemas import AUTH_ERRORS, error_responses
from dailies import note_exports
from dailies.db import notes
from dailies.hashing import normalize_sha256
from dailies.probe_timing import MasterTiming

router = APIRouter(prefix="/api/masters", tags=["notes"], route_class=StrictJsonRoute)


def _export_rows(db: Any, sha: str) -> tuple[MasterTiming, list[note_exports.ExportNote]]:
    timing = notes.master_timing(db, sha)
    rows = [
        note_exports.ExportNote(
            note_id=row.id,
            parent_id=row.parent_id,
            frame_in=row.frame_in,
            frame_out=row.frame_out,
            text=row.text,
            author=row.author_name or f"key {row.author_key_id}",
            created_at=row.created_at,
            resolved=row.resolved,
            resolved_by=row.resolved_by_name,
            resolved_at=row.resolved_at,
            has_drawing=row.drawing is not None,
        )  # fmt: skip
        for row in notes.all_notes(db, sha)
    ]
    return timing, rows


def _download(body: str, media_type: str, sha: str, suffix: str) -> Response:
    name = f"{sha[:12]}-notes.{suffix}"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


EXPORT_ERRORS = error_responses(404, *AUTH_ERRORS)


@router.get("/{sha256}/notes.csv", response_class=Response, responses=EXPORT_ERRORS)
def export_csv(sha256: Sha, _: Reviewer, db: DbDep) -> Response:
    """Every note and reply as CSV, with source timecodes."""
    sha = normalize_sha256(sha256)
    timing, rows = _export_rows(db, sha)
    return _download(note_exports.notes_csv(rows, timing), "text/csv; charset=utf-8", sha, "csv")


@router.get("/{sha256}/notes.edl", response_class=Response, responses=EXPORT_ERRORS)
def export_edl(sha256: Sha, _: Reviewer, db: DbDep) -> Response:
    """The notes as CMX3600 EDL markers at the master's source timecode (FCM says DF/NDF)."""
    sha = normalize_sha256(sha256)
    timing, rows = _export_rows(db, sha)
    body = note_exports.notes_edl(rows, timing, title=sha[:12])
    return _download(body, "text/plain; charset=utf-8", sha, "edl")


@router.get("/{sha256}/notes.fcpxml", response_class=Response, responses=EXPORT_ERRORS)
def export_fcpxml(sha256: Sha, _: Reviewer, db: DbDep) -> Response:
    """The notes as FCPXML 1.9 to-do markers on the master's clip (completed when resolved)."""
    sha = normalize_sha256(sha256)
    timing, rows = _export_rows(db, sha)
    body = note_exports.notes_fcpxml(rows, timing, title=sha[:12], uid=sha)
    return _download(body, "application/xml", sha, "fcpxml")
