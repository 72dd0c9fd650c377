"""SMPTE timecode maths (ST 12-1), pure: frame counts to labels and back, for any frame rate,
with drop-frame counting for the 1000/1001 rates (29.97 and 59.94).

A timecode label counts frames at the *nominal* rate (24, 25, 30, 60…); a 23.976 or 29.97
master runs slower than its labels, so an hour of 29.97 footage is labelled 01:00:03;18 with
non-drop counting. Drop-frame skips the labels ;00 and ;01 (;00–;03 at 59.94) at the start of
every minute except each tenth, which keeps the labels within 2 frames of wall-clock time.
The player (edge/player/timecode.js) does the same sums; tests check that the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from dailies.errors import InvalidRequest

_LABEL = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
DROP_SEPARATORS = frozenset(";.,")
NTSC = Fraction(1000, 1001)


class InvalidTimecode(InvalidRequest):
    """A timecode label that no frame can have at its rate."""


@dataclass(frozen=True)
class TimecodeRate:
    """How labels count: `nominal` frames a labelled second, dropping labels or not."""

    nominal: int
    drop_frame: bool = False

    def __post_init__(self) -> None:
        if self.nominal < 1:
            raise InvalidTimecode(f"a timecode rate needs 1 frame a second or more: {self.nominal}")
        if self.drop_frame and self.nominal % 30:
            raise InvalidTimecode(
                f"drop-frame timecode exists only for 29.97 and 59.94 (nominal 30/60), "
                f"not nominal {self.nominal}"
            )

    @property
    def dropped_per_minute(self) -> int:
        """Labels skipped each minute not divisible by ten: 2 at 29.97, 4 at 59.94."""
        return self.nominal // 15 if self.drop_frame else 0

    @property
    def frames_per_minute(self) -> int:
        """Frames in a minute whose labels are dropped (or any minute, non-drop)."""
        return self.nominal * 60 - self.dropped_per_minute

    @property
    def frames_per_ten_minutes(self) -> int:
        return self.nominal * 600 - 9 * self.dropped_per_minute

    @property
    def frames_per_day(self) -> int:
        return 144 * self.frames_per_ten_minutes


def rate_for(fps: Fraction, drop_frame: bool = False) -> TimecodeRate:
    """The timecode rate of footage shot at `fps`: 24000/1001 counts 24, 30000/1001 counts 30.
    Drop-frame is honoured only where it exists (a 1000/1001 rate with nominal 30 or 60)."""
    nominal = max(1, round(fps))
    drop = drop_frame and nominal % 30 == 0 and fps == nominal * NTSC
    return TimecodeRate(nominal, drop)


def label_to_frame(label: str, rate: TimecodeRate) -> int:
    """Frames since 00:00:00:00 of the label HH:MM:SS:FF (HH:MM:SS;FF for drop-frame)."""
    found = _LABEL.match(label.strip())
    if found is None:
        raise InvalidTimecode(f"not a timecode: {label!r} (expected HH:MM:SS:FF)")
    hours, minutes, seconds, _, frames = _fields(found)
    if hours > 23 or minutes > 59 or seconds > 59 or frames >= rate.nominal:
        raise InvalidTimecode(f"{label!r} is out of range at {rate.nominal} frames a second")
    total_minutes = 60 * hours + minutes
    dropped = rate.dropped_per_minute
    if dropped and seconds == 0 and frames < dropped and minutes % 10:
        raise InvalidTimecode(f"{label!r} is a label drop-frame counting skips")
    labelled = (3600 * hours + 60 * minutes + seconds) * rate.nominal + frames
    return labelled - dropped * (total_minutes - total_minutes // 10)


def _fields(found: re.Match[str]) -> tuple[int, int, int, str, int]:
    return (
        int(found.group(1)),
        int(found.group(2)),
        int(found.group(3)),
        found.group(4),
        int(found.group(5)),
    )


def frame_to_label(frame: int, rate: TimecodeRate) -> str:
    """The label of the frame `frame` frames after 00:00:00:00, wrapping at 24 hours."""
    frame %= rate.frames_per_day
    dropped = rate.dropped_per_minute
    if dropped:
        tens, rest = divmod(frame, rate.frames_per_ten_minutes)
        # The first minute of every ten keeps all its labels; each later one lost `dropped`.
        skipped = 9 * dropped * tens
        if rest >= dropped:
            skipped += dropped * ((rest - dropped) // rate.frames_per_minute)
        frame += skipped
    frames = frame % rate.nominal
    seconds_total = frame // rate.nominal
    hours, rest_s = divmod(seconds_total, 3600)
    minutes, seconds = divmod(rest_s, 60)
    separator = ";" if rate.drop_frame else ":"
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{frames:02d}"


def is_drop_frame_label(label: str) -> bool:
    found = _LABEL.match(label.strip())
    return bool(found) and found.group(4) in DROP_SEPARATORS  # type: ignore[union-attr]


@dataclass(frozen=True)
class SourceTiming:
    """Where a master's frames sit on its timecode: what the review page labels them with."""

    start_timecode: str
    start_frame: int
    frame_rate: Fraction
    rate: TimecodeRate
    source: str  # tmcd, video, format or none: where the start came from

    def label_at(self, frame_index: int) -> str:
        """The label of the master's `frame_index`th frame (0 = its first)."""
        return frame_to_label(self.start_frame + frame_index, self.rate)

    def as_json(self) -> dict[str, Any]:
        """timing.json beside the playlists; the player needs only these fields."""
        return {
            "start_timecode": self.start_timecode,
            "start_frame": self.start_frame,
            "frame_rate": f"{self.frame_rate.numerator}/{self.frame_rate.denominator}",
            "fps": float(self.frame_rate),
            "timecode_rate": self.rate.nominal,
            "drop_frame": self.rate.drop_frame,
            "source": self.source,
        }


def source_timing(tag: str | None, fps: Fraction, source: str = "tmcd") -> SourceTiming:
    """A master's timing from its start timecode tag (None: count from 00:00:00:00).

    A tag that does not parse at the master's rate is not trusted: the page then counts from
    zero rather than show labels no frame of the master carries."""
    rate = rate_for(fps, drop_frame=bool(tag) and is_drop_frame_label(tag or ""))
    if tag:
        try:
            start = label_to_frame(tag, rate)
        except InvalidTimecode:
            tag = None
        else:
            return SourceTiming(frame_to_label(start, rate), start, fps, rate, source)
    return SourceTiming(frame_to_label(0, rate), 0, fps, rate, "none")
