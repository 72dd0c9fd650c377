"""Bodies of the notes and approvals routes (api/routes/notes.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from dailies import note_rules
from dailies.note_rules import ApprovalStatus

Unit = Annotated[float, Field(ge=0, le=1)]


class Stroke(BaseModel):
    """A line drawn over the picture: points as fractions of the frame's width and height."""

    color: str = Field(pattern=note_rules.COLOR_PATTERN, examples=["#ff3b30"])
    width: float = Field(default=0.004, gt=0, le=note_rules.MAX_STROKE_WIDTH)
    points: list[tuple[Unit, Unit]] = Field(
        min_length=1, max_length=note_rules.MAX_POINTS_PER_STROKE
    )


class Drawing(BaseModel):
    strokes: list[Stroke] = Field(min_length=1, max_length=note_rules.MAX_STROKES)

    @model_validator(mode="after")
    def _bounded(self) -> Drawing:
        total = sum(len(stroke.points) for stroke in self.strokes)
        if total > note_rules.MAX_POINTS:
            raise ValueError(f"a drawing has at most {note_rules.MAX_POINTS} points, not {total}")
        return self


Text = Annotated[str, Field(min_length=1, max_length=note_rules.MAX_TEXT_CHARS)]


class NoteCreateBody(BaseModel):
    frame_in: int = Field(ge=0, le=2**31 - 1)
    frame_out: int | None = Field(default=None, ge=0, le=2**31 - 1)
    text: Text
    drawing: Drawing | None = None


class ReplyCreateBody(BaseModel):
    text: Text


class NoteEditBody(BaseModel):
    """What the author changes: the text, the drawing (null removes it), or both."""

    text: Text | None = None
    drawing: Drawing | None = None


class NoteOut(BaseModel):
    note_id: int
    sha256: str
    parent_id: int | None
    frame_in: int
    frame_out: int | None
    timecode_in: str
    timecode_out: str | None
    drawing: dict[str, Any] | None
    text: str
    author_key_id: int
    author: str | None
    created_at: datetime
    updated_at: datetime | None
    resolved: bool
    resolved_by: str | None
    resolved_at: datetime | None
    replies: list[NoteOut] = []


class TimingOut(BaseModel):
    start_timecode: str
    frame_rate: str
    drop_frame: bool
    frame_count: int


class NotePageOut(BaseModel):
    timing: TimingOut
    notes: list[NoteOut]
    next_after: int | None  # pass as ?after= for the next page; None on the last


class ApprovalBody(BaseModel):
    status: ApprovalStatus


class ApprovalOut(BaseModel):
    key_id: int
    name: str | None
    role: str
    status: ApprovalStatus
    updated_at: datetime


class ApprovalChangedOut(ApprovalOut):
    previous: ApprovalStatus
    changed: bool


class CallerOut(BaseModel):
    """Who asked: the review page finds its own row and offers resolve to editors only."""

    key_id: int
    name: str | None
    role: str


class ApprovalListOut(BaseModel):
    approvals: list[ApprovalOut]
    caller: CallerOut
