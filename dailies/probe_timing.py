"""Where a master's frames sit on its source timecode, read from the ffprobe JSON promotion
stored in its masters row: rate, start timecode and length in frames. Pure.

Outside `dailies.media` because the API (which may not import media code) labels notes with
it; `dailies.media.probe` reads the same fields through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from dailies.timecode import SourceTiming, source_timing


@dataclass(frozen=True)
class MasterTiming:
    """A master's source timing and how many frames it has (frames 0..frame_count-1)."""

    source: SourceTiming
    frame_count: int

    def label_at(self, frame: int) -> str:
        return self.source.label_at(frame)

    def as_json(self) -> dict[str, Any]:
        return {**self.source.as_json(), "frame_count": self.frame_count}


def first_video(streams: list[dict[str, Any]]) -> dict[str, Any] | None:
    for stream in streams:
        # Cover art in an audio file is a "video" stream with the attached_pic disposition.
        attached = (stream.get("disposition") or {}).get("attached_pic") == 1
        if stream.get("codec_type") == "video" and not attached:
            return stream
    return None


def ratio(value: Any) -> Fraction | None:
    if not value or value in ("0/0", "N/A"):
        return None
    try:
        text = str(value).replace(":", "/")
        found = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return found if found > 0 else None


def start_timecode(
    streams: list[dict[str, Any]], video: dict[str, Any], fmt: dict[str, Any]
) -> tuple[str | None, str]:
    """The start timecode and where it was found: a QuickTime/MP4 tmcd track is what cameras
    and NLEs write; MXF and some muxers put it in the video stream's or the file's tags."""
    for stream in streams:
        if stream.get("codec_tag_string") == "tmcd" or stream.get("codec_name") == "tmcd":
            found = (stream.get("tags") or {}).get("timecode")
            if found:
                return str(found), "tmcd"
    for where, tags in (("video", video.get("tags")), ("format", fmt.get("tags"))):
        found = (tags or {}).get("timecode")
        if found:
            return str(found), where
    return None, "none"


def timing_from_probe(data: dict[str, Any] | None) -> MasterTiming | None:
    """The timing of a master from its stored probe, or None when the probe cannot tell
    (no probe, no video stream, no rate or no length)."""
    if not data:
        return None
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    video = first_video(streams)
    if video is None:
        return None
    fps = ratio(video.get("avg_frame_rate")) or ratio(video.get("r_frame_rate"))
    if fps is None:
        return None
    frames = _frame_count(video, fmt, fps)
    if frames is None:
        return None
    tag, where = start_timecode(streams, video, fmt)
    return MasterTiming(source_timing(tag, fps, where), frames)


def timing_from_preview(
    start_tc: str | None, frame_rate: str | None, duration_s: float | None
) -> MasterTiming | None:
    """The same from a previews row (what its build measured), for a master promoted before
    probes were stored."""
    fps = ratio(frame_rate)
    if fps is None or not duration_s or duration_s <= 0:
        return None
    return MasterTiming(source_timing(start_tc, fps), max(1, round(duration_s * fps)))


def _frame_count(video: dict[str, Any], fmt: dict[str, Any], fps: Fraction) -> int | None:
    # nb_frames is the container's count where it keeps one (MOV, MP4); else the duration.
    try:
        counted = int(video.get("nb_frames") or 0)
    except (TypeError, ValueError):
        counted = 0
    if counted > 0:
        return counted
    for value in (video.get("duration"), fmt.get("duration")):
        try:
            seconds = float(str(value))
        except ValueError:
            continue
        if seconds > 0:
            return max(1, round(seconds * fps))
    return None
