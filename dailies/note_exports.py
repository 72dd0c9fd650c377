"""Notes as an editor's NLE takes them: CSV, CMX3600 EDL markers and FCPXML markers, at the
master's source timecode and rate (drop-frame where the master counts so). Pure: text in,
text out; the API reads the rows and sends the answer.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from xml.etree import ElementTree

from dailies.probe_timing import MasterTiming

CSV_COLUMNS = (
    "note_id", "parent_id", "frame_in", "frame_out", "timecode_in", "timecode_out",
    "author", "created_at", "resolved", "resolved_by", "resolved_at", "has_drawing", "text",
)  # fmt: skip
# Spreadsheets run a cell that starts with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
EDL_REEL = "AX"  # the auxiliary source: markers point at no tape
EDL_TEXT_CHARS = 200


@dataclass(frozen=True)
class ExportNote:
    note_id: int
    parent_id: int | None
    frame_in: int
    frame_out: int | None
    text: str
    author: str
    created_at: datetime
    resolved: bool = False
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    has_drawing: bool = False

    @property
    def last_frame(self) -> int:
        return self.frame_in if self.frame_out is None else self.frame_out


def notes_csv(notes: Sequence[ExportNote], timing: MasterTiming) -> str:
    """Every note and reply, one row each; timecodes label the frames themselves (out is the
    range's last frame, inclusive)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for note in notes:
        writer.writerow(
            [
                note.note_id,
                note.parent_id if note.parent_id is not None else "",
                note.frame_in,
                note.frame_out if note.frame_out is not None else "",
                timing.label_at(note.frame_in),
                timing.label_at(note.frame_out) if note.frame_out is not None else "",
                _cell(note.author),
                note.created_at.isoformat(),
                "yes" if note.resolved else "no",
                _cell(note.resolved_by or ""),
                note.resolved_at.isoformat() if note.resolved_at else "",
                "yes" if note.has_drawing else "no",
                _cell(note.text),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat[:limit]


def notes_edl(notes: Sequence[ExportNote], timing: MasterTiming, title: str) -> str:
    """A CMX3600 marker EDL: one event per note (replies are not markers) covering its frames
    (out exclusive, as EDLs count), record times equal to source times, and a locator at its
    in frame: red while open, green once resolved."""
    drop = timing.source.rate.drop_frame
    lines = [f"TITLE: {_one_line(title, 70)}", f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}"]
    markers = sorted(
        (n for n in notes if n.parent_id is None), key=lambda n: (n.frame_in, n.note_id)
    )
    for number, note in enumerate(markers, start=1):
        start = timing.label_at(note.frame_in)
        end = timing.label_at(note.last_frame + 1)
        lines.append("")
        lines.append(f"{number:03d}  {EDL_REEL:<8} V     C        {start} {end} {start} {end}")
        lines.append(f"* FROM CLIP NAME: {_one_line(title, 70)}")
        color = "GREEN" if note.resolved else "RED"
        text = _one_line(f"{note.author}: {note.text}", EDL_TEXT_CHARS)
        lines.append(f"* LOC: {start} {color:<7} {text}")
        lines.append(f"* NOTE ID: {note.note_id}")
    return "\n".join(lines) + "\n"


def _rational_s(frames: int, frame_duration: Fraction) -> str:
    """FCPXML's time: a rational number of seconds, '1001/30000s' or '2s'."""
    value = frames * frame_duration
    if value.denominator == 1:
        return f"{value.numerator}s"
    return f"{value.numerator}/{value.denominator}s"


def notes_fcpxml(notes: Sequence[ExportNote], timing: MasterTiming, title: str, uid: str) -> str:
    """FCPXML 1.9: a project whose one clip is the master, at its source timecode, with a
    to-do marker per note (completed once resolved) over the note's frames."""
    rate = timing.source.frame_rate
    frame = Fraction(rate.denominator, rate.numerator)
    start = timing.source.start_frame
    tc_format = "DF" if timing.source.rate.drop_frame else "NDF"
    length = _rational_s(timing.frame_count, frame)
    root = ElementTree.Element("fcpxml", version="1.9")
    resources = ElementTree.SubElement(root, "resources")
    ElementTree.SubElement(
        resources, "format", id="r1", name="FFVideoFormatRateUndefined",
        frameDuration=_rational_s(1, frame),
    )  # fmt: skip
    asset = ElementTree.SubElement(
        resources, "asset", id="r2", name=title, uid=uid, start=_rational_s(start, frame),
        duration=length, hasVideo="1", format="r1",
    )  # fmt: skip
    ElementTree.SubElement(asset, "media-rep", kind="original-media", src=f"dailies://{uid}")
    library = ElementTree.SubElement(root, "library")
    event = ElementTree.SubElement(library, "event", name="dailies notes")
    project = ElementTree.SubElement(event, "project", name=f"{title} notes")
    sequence = ElementTree.SubElement(
        project, "sequence", format="r1", duration=length, tcStart=_rational_s(start, frame),
        tcFormat=tc_format,
    )  # fmt: skip
    spine = ElementTree.SubElement(sequence, "spine")
    clip = ElementTree.SubElement(
        spine, "asset-clip", ref="r2", name=title, offset=_rational_s(start, frame),
        start=_rational_s(start, frame), duration=length, format="r1", tcFormat=tc_format,
    )  # fmt: skip
    for note in sorted(notes, key=lambda n: (n.frame_in, n.note_id)):
        if note.parent_id is not None:
            continue
        ElementTree.SubElement(
            clip, "marker", start=_rational_s(start + note.frame_in, frame),
            duration=_rational_s(note.last_frame - note.frame_in + 1, frame),
            value=_one_line(note.text, EDL_TEXT_CHARS),
            note=f"{_one_line(note.author, 100)}; dailies note {note.note_id}; "
            f"{timing.label_at(note.frame_in)}",
            completed="1" if note.resolved else "0",
        )  # fmt: skip
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n{body}\n'
