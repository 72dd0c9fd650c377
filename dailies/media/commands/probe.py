"""The ffprobe command that describes a master; parsing its JSON is dailies/media/probe.py."""

from __future__ import annotations

from dailies.media.commands.common import input_protocols


def ffprobe_args(ffprobe_bin: str, source: str) -> list[str]:
    return [
        ffprobe_bin,
        "-v", "error",
        "-hide_banner",
        "-print_format", "json",
        "-show_format",
        "-show_streams",
        "-protocol_whitelist", input_protocols(source),
        source,
    ]  # fmt: skip


def first_frame_args(ffprobe_bin: str, source: str) -> list[str]:
    """The first video packet's decode time and the first frame's presentation time. A
    B-frame encode presents its first picture a few frames after it decodes it (libx264 with
    2 B-frames: 2 frames), and browsers play fMP4 with that delay, so the review page needs
    it to name the frame on screen (dailies.media.probe.first_frame_time)."""
    return [
        ffprobe_bin,
        "-v", "error",
        "-select_streams", "v:0",
        "-read_intervals", "%+#1",
        "-show_entries", "packet=dts_time:frame=pts_time,best_effort_timestamp_time",
        "-print_format", "json",
        source,
    ]  # fmt: skip
