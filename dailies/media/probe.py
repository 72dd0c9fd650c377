"""What a master is, from ffprobe's JSON: parsing is pure; the command is commands/probe.py and
the subprocess lives in runner."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from dailies.errors import UnplayableMaster
from dailies.probe_timing import first_video as _first_video
from dailies.probe_timing import ratio as _ratio
from dailies.probe_timing import start_timecode as _start_timecode
from dailies.timecode import SourceTiming, source_timing

HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
INTERLACED_FIELD_ORDERS = frozenset({"tt", "bb", "tb", "bt"})


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    channels: int
    sample_rate: int


@dataclass(frozen=True)
class MasterProbe:
    """The facts about a master that decide how its preview is made."""

    duration_s: float
    container: str
    video_codec: str
    pix_fmt: str
    bit_depth: int
    # Display size: after rotation and non-square pixels, i.e. what a viewer sees.
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int  # 0, 90, 180 or 270
    frame_rate: Fraction  # average rate; VFR masters still get a constant output rate
    variable_frame_rate: bool
    interlaced: bool
    hdr: bool
    color_transfer: str | None
    bit_rate: int | None
    audio: AudioInfo | None
    # The start timecode as the master carries it (a tmcd track, else a tag), if it does.
    timecode: str | None = None
    timecode_source: str = "none"

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def timing(self) -> SourceTiming:
        return source_timing(self.timecode, self.frame_rate, self.timecode_source)


def parse_probe(data: dict[str, Any]) -> MasterProbe:
    """Turn ffprobe's JSON into a MasterProbe, or say in plain words why it is unusable."""
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    video = _first_video(streams)
    if video is None:
        kinds = sorted({str(s.get("codec_type")) for s in streams}) or ["none"]
        raise UnplayableMaster(
            f"the master has no video stream (found: {', '.join(kinds)}); "
            "previews need a video file"
        )
    coded_w, coded_h = int(video.get("width") or 0), int(video.get("height") or 0)
    if coded_w <= 0 or coded_h <= 0:
        raise UnplayableMaster(
            f"the video stream ({video.get('codec_name', 'unknown codec')}) has no picture size; "
            "the file is probably truncated or corrupt"
        )
    duration = _duration(fmt, video)
    if duration is None or duration <= 0:
        raise UnplayableMaster("the master reports no duration; it is probably truncated")

    rotation = _rotation(video)
    sar = _ratio(video.get("sample_aspect_ratio")) or Fraction(1)
    display_w = round(coded_w * sar) if sar > 0 else coded_w
    width, height = (coded_h, display_w) if rotation in (90, 270) else (display_w, coded_h)

    avg = _ratio(video.get("avg_frame_rate"))
    real = _ratio(video.get("r_frame_rate"))
    frame_rate = avg or real
    if not frame_rate:
        raise UnplayableMaster("the video stream reports no frame rate; it is probably corrupt")
    pix_fmt = str(video.get("pix_fmt") or "")
    transfer = video.get("color_transfer")
    audio = _first_audio(streams)
    bit_rate = fmt.get("bit_rate")
    timecode, timecode_source = _start_timecode(streams, video, fmt)
    return MasterProbe(
        duration_s=duration,
        container=str(fmt.get("format_name") or ""),
        video_codec=str(video.get("codec_name") or ""),
        pix_fmt=pix_fmt,
        bit_depth=_bit_depth(pix_fmt, video.get("bits_per_raw_sample")),
        width=width,
        height=height,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        frame_rate=frame_rate,
        # r_frame_rate is the base (tick) rate; an average far from it means frames come
        # at uneven intervals, as phones record.
        variable_frame_rate=bool(avg and real and abs(avg - real) / real > Fraction(1, 100)),
        interlaced=str(video.get("field_order") or "") in INTERLACED_FIELD_ORDERS,
        hdr=transfer in HDR_TRANSFERS,
        color_transfer=str(transfer) if transfer else None,
        bit_rate=int(bit_rate) if bit_rate and str(bit_rate).isdigit() else None,
        audio=audio,
        timecode=timecode,
        timecode_source=timecode_source,
    )


def _first_audio(streams: list[dict[str, Any]]) -> AudioInfo | None:
    for stream in streams:
        if stream.get("codec_type") == "audio" and int(stream.get("channels") or 0) > 0:
            return AudioInfo(
                codec=str(stream.get("codec_name") or ""),
                channels=int(stream["channels"]),
                sample_rate=int(stream.get("sample_rate") or 0),
            )
    return None


def _duration(fmt: dict[str, Any], video: dict[str, Any]) -> float | None:
    for value in (fmt.get("duration"), video.get("duration")):
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    return None


def _rotation(video: dict[str, Any]) -> int:
    """Clockwise-agnostic rotation in {0, 90, 180, 270}: only whether sides swap matters here;
    ffmpeg's autorotate applies the right direction when decoding."""
    raw: Any = None
    for side in video.get("side_data_list") or []:
        if side.get("side_data_type") == "Display Matrix" and "rotation" in side:
            raw = side["rotation"]
    if raw is None:
        raw = (video.get("tags") or {}).get("rotate")
    try:
        degrees = round(float(raw)) if raw is not None else 0
    except (TypeError, ValueError):
        degrees = 0
    return (round(degrees / 90) * 90) % 360


def _bit_depth(pix_fmt: str, bits_per_raw_sample: Any) -> int:
    if pix_fmt.startswith(("p010", "p210", "p410")):  # semi-planar 10-bit (GPU decoders)
        return 10
    for depth in (16, 14, 12, 10, 9):
        if f"p{depth}" in pix_fmt:
            return depth
    try:
        return int(bits_per_raw_sample) if bits_per_raw_sample else 8
    except (TypeError, ValueError):
        return 8


def first_frame_time(data: dict[str, Any]) -> float | None:
    """Where the first picture sits on a browser's clock, from `first_frame_args`' JSON (None
    if it has no frame): its presentation time after the first packet's decode time. hls.js
    starts a segment's video at its first decode time, so what counts is the B-frame delay,
    not a shift every track got: a remux starts its video 21 ms late to make room for AAC's
    priming, which the browser does not show (measured in tests/e2e/test_review_frames.py)."""
    entries = data.get("packets_and_frames") or data.get("frames") or []
    decoded = 0.0
    for entry in entries:
        if entry.get("type") == "packet":
            decoded = _seconds(entry.get("dts_time")) or 0.0
            continue
        for name in ("pts_time", "best_effort_timestamp_time"):
            shown = _seconds(entry.get(name))
            if shown is not None:
                return round(shown - decoded, 6)
    return None


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
