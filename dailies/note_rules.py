"""What a note or an approval may be, and who may change it. Pure."""

from __future__ import annotations

import enum
from typing import Any

from dailies.errors import InvalidRequest, NotFound
from dailies.upload_rules import may_act_on

MAX_TEXT_CHARS = 4000
# A drawing is vector data over the picture: strokes of points normalised to 0..1 of the
# frame's width and height. Bounded so that a note stays a few hundred kilobytes at most.
MAX_STROKES = 64
MAX_POINTS_PER_STROKE = 2000
MAX_POINTS = 10_000
MAX_STROKE_WIDTH = 0.1  # of the frame's width
COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"
NOTES_PAGE_DEFAULT = 50
NOTES_PAGE_MAX = 200


class ApprovalStatus(enum.StrEnum):
    APPROVED = "approved"
    NEEDS_CHANGES = "needs_changes"
    NONE = "none"


class NoteNotFound(NotFound):
    """No note with that id on that master."""


class FrameOutOfRange(InvalidRequest):
    """A note's frame the master does not have."""


class MasterTimingUnknown(InvalidRequest):
    """Neither the master's probe nor its preview says its rate and length: notes need both."""


class ReplyNotAllowed(InvalidRequest):
    """Replies answer a note, not another reply, and are resolved with their note."""


def check_frames(frame_in: int, frame_out: int | None, frame_count: int) -> None:
    """A note sits on frames 0..frame_count-1; a range's out is at or after its in."""
    last = frame_count - 1
    if not 0 <= frame_in <= last:
        raise FrameOutOfRange(f"frame {frame_in} is not a frame of this master (0..{last})")
    if frame_out is not None and not frame_in <= frame_out <= last:
        raise FrameOutOfRange(
            f"out frame {frame_out} must be from the in frame {frame_in} to the last frame {last}"
        )


def clean_text(text: str) -> str:
    """The note's text without surrounding blanks; empty is refused."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidRequest("a note needs some text")
    return cleaned


def may_edit(author_key_id: int, key_id: int, role: str) -> bool:
    """A note is its author's: only they (or an admin) edit or delete it."""
    return may_act_on(author_key_id, key_id, role)


APPROVAL_EVENT = "dailies.approval.changed"


def approval_event(
    sha256: str, key_id: int, name: str | None, previous: str, status: str
) -> dict[str, Any]:
    """`emit_event`'s arguments for a reviewer's changed status: the master is the resource
    (as the audit's events name it), the reviewer's key a related one. The new status is a
    label of the resource too: an automation's trigger matches labels, not the payload
    (automations/notify-editors-changes-requested.yaml)."""
    return {
        "event": APPROVAL_EVENT,
        "resource": {
            "prefect.resource.id": f"dailies.master.{sha256}",
            "prefect.resource.name": sha256[:12],
            "dailies.approval.status": status,
        },
        "related": [
            {
                "prefect.resource.id": f"dailies.api-key.{key_id}",
                "prefect.resource.role": "reviewer",
                "prefect.resource.name": name or f"key {key_id}",
            }
        ],
        "payload": {"sha256": sha256, "status": status, "previous": previous, "reviewer": name},
    }
