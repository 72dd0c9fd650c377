"""Note exports read back by parsers that are not ours: CSV by the csv module, the EDL's events
by OpenTimelineIO's cmx_3600 adapter, FCPXML by its fcpx_xml adapter (and by ElementTree for
29.97: that adapter rounds the rate to 29 fps), with OTIO's own drop-frame maths as the check.
Also the master's timing read from its stored probe."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from fractions import Fraction
from xml.etree import ElementTree

import opentimelineio as otio
import pytest

from dailies.note_exports import CSV_COLUMNS, ExportNote, notes_csv, notes_edl, notes_fcpxml
from dailies.probe_timing import MasterTiming, timing_from_preview, timing_from_probe
from dailies.timecode import source_timing

NTSC30 = Fraction(30000, 1001)
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DF_MASTER = MasterTiming(source_timing("00:00:00;00", NTSC30), 20_000)
PAL_MASTER = MasterTiming(source_timing("10:00:00:00", Fraction(25)), 20_000)


def _note(note_id: int, frame_in: int, frame_out: int | None = None, **kw: object) -> ExportNote:
    fields: dict = {"text": f"note {note_id}", "author": "ann", "created_at": NOW, **kw}
    return ExportNote(note_id, fields.pop("parent_id", None), frame_in, frame_out, **fields)


NOTES = [
    _note(1, 1800, text="grade is warm, see the drawing", has_drawing=True),
    _note(2, 17982, 17990, author="bob", resolved=True, resolved_by="ed", resolved_at=NOW),
    _note(3, 1800, parent_id=1, text='=HYPERLINK("http://x")', author="bob"),
    _note(4, 0, text="line one\nline two\x07"),
]

# frame -> label, from the SMPTE tables: DF skips ;00 and ;01 at minutes not divisible by 10.
DF_LABELS = {0: "00:00:00;00", 1799: "00:00:59;29", 1800: "00:01:00;02", 17982: "00:10:00;00"}
PAL_LABELS = {0: "10:00:00:00", 1800: "10:01:12:00", 17982: "10:11:59:07"}


def test_csv_reads_back_with_timecodes_and_replies() -> None:
    rows = list(csv.DictReader(io.StringIO(notes_csv(NOTES, DF_MASTER))))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_id = {row["note_id"]: row for row in rows}
    assert by_id["1"]["timecode_in"] == DF_LABELS[1800]
    assert by_id["1"]["has_drawing"] == "yes"
    assert (by_id["2"]["timecode_in"], by_id["2"]["timecode_out"]) == ("00:10:00;00", "00:10:00;08")
    assert by_id["2"]["resolved"] == "yes" and by_id["2"]["resolved_by"] == "ed"
    assert by_id["3"]["parent_id"] == "1"
    # A spreadsheet must not run a note as a formula; newlines survive (quoted).
    assert by_id["3"]["text"] == '\'=HYPERLINK("http://x")'
    assert by_id["4"]["text"].startswith("line one\nline two")


@pytest.mark.parametrize(
    ("timing", "labels", "rate", "drop"),
    [(DF_MASTER, DF_LABELS, NTSC30, True), (PAL_MASTER, PAL_LABELS, Fraction(25), False)],
)
def test_edl_events_and_locators_carry_source_timecode(
    timing: MasterTiming, labels: dict[int, str], rate: Fraction, drop: bool
) -> None:
    edl = notes_edl(NOTES, timing, title="A001C003")
    assert f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}" in edl.splitlines()
    # OTIO's parser reads the events (drop-frame by the ';'), sorted by their in frame.
    timeline = otio.adapters.read_from_string(edl, "cmx_3600", rate=float(rate))
    clips = [item for item in timeline.tracks[0] if isinstance(item, otio.schema.Clip)]
    starts = [
        otio.opentime.to_timecode(clip.source_range.start_time, float(rate), drop) for clip in clips
    ]
    assert starts == [labels[0], labels[1800], labels[17982]]  # the reply is no marker
    assert [clip.source_range.duration.value for clip in clips] == [1, 1, 9]
    # Locators (OTIO reads only ':' locators, so these by their fixed layout).
    locators = re.findall(r"^\* LOC: (\S+) (\w+)\s+(.*)$", edl, re.M)
    assert [(tc, color) for tc, color, _ in locators] == [
        (labels[0], "RED"), (labels[1800], "RED"), (labels[17982], "GREEN"),
    ]  # fmt: skip
    assert locators[0][2] == "ann: line one line two"  # one line, no control characters


def test_fcpxml_markers_read_by_otio_at_25fps() -> None:
    xml = notes_fcpxml(NOTES, PAL_MASTER, title="A001C003", uid="f" * 64)
    collection = otio.adapters.read_from_string(xml, "fcpx_xml")
    timeline = next(iter(collection))
    clip = next(c for c in timeline.tracks[0] if isinstance(c, otio.schema.Clip))
    got = {
        marker.name: (
            otio.opentime.to_timecode(marker.marked_range.start_time, 25),
            marker.marked_range.duration.value,
        )
        for marker in clip.markers
    }
    assert got == {
        "line one line two": (PAL_LABELS[0], 1),
        "grade is warm, see the drawing": (PAL_LABELS[1800], 1),
        "note 2": (PAL_LABELS[17982], 9),
    }


def _seconds(value: str) -> Fraction:
    assert value.endswith("s")
    return Fraction(value[:-1])


def test_fcpxml_drop_frame_marker_times_are_exact() -> None:
    xml = notes_fcpxml(NOTES, DF_MASTER, title="A001C003", uid="f" * 64)
    root = ElementTree.fromstring(xml)
    assert root.find("resources/format").get("frameDuration") == "1001/30000s"
    assert root.find(".//sequence").get("tcFormat") == "DF"
    markers = root.findall(".//asset-clip/marker")
    labels = []
    for marker in markers:
        frames = _seconds(marker.get("start")) * NTSC30
        assert frames.denominator == 1, "a marker between frames"
        time = otio.opentime.RationalTime(int(frames), float(NTSC30))
        labels.append(otio.opentime.to_timecode(time, float(NTSC30), True))
    assert labels == [DF_LABELS[0], DF_LABELS[1800], DF_LABELS[17982]]
    assert [m.get("completed") for m in markers] == ["0", "0", "1"]
    assert _seconds(markers[2].get("duration")) * NTSC30 == 9


def _probe(video: dict, streams: list | None = None, fmt: dict | None = None) -> dict:
    base = {"codec_type": "video", "avg_frame_rate": "30000/1001", **video}
    return {"streams": [base, *(streams or [])], "format": fmt or {}}


TMCD_DF = {"codec_tag_string": "tmcd", "tags": {"timecode": "01:00:00;00"}}
PAL_TAGGED = {"avg_frame_rate": "25/1", "tags": {"timecode": "10:00:00:00"}}


@pytest.mark.parametrize(
    ("probe", "start", "drop", "frames"),
    [
        (_probe({"nb_frames": "600"}, [TMCD_DF]), "01:00:00;00", True, 600),
        (_probe(PAL_TAGGED, fmt={"duration": "4.0"}), "10:00:00:00", False, 100),
        (_probe({}, fmt={"duration": "2.002"}), "00:00:00:00", False, 60),
    ],
)
def test_timing_from_the_stored_probe(probe: dict, start: str, drop: bool, frames: int) -> None:
    timing = timing_from_probe(probe)
    assert timing is not None
    assert (timing.source.start_timecode, timing.source.rate.drop_frame) == (start, drop)
    assert timing.frame_count == frames


@pytest.mark.parametrize(
    "probe", [None, {}, {"streams": [{"codec_type": "audio"}]}, _probe({"avg_frame_rate": "0/0"})]
)
def test_timing_unknown_without_rate_or_length(probe: dict | None) -> None:
    assert timing_from_probe(probe) is None


def test_timing_from_a_preview_row() -> None:
    timing = timing_from_preview("00:59:59;28", "30000/1001", 10.01)
    assert timing is not None and timing.frame_count == 300
    assert timing.label_at(2) == "01:00:00;00"
    assert timing_from_preview(None, None, 3.0) is None
