"""The poster frame, taken from a finished rendition (already deinterlaced, tone-mapped and
rotated, so none of that is repeated)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg

from dailies.media.commands.common import LOCAL_PROTOCOLS, finish_args


def poster_time(duration_s: float) -> float:
    """A tenth of the way in (past slates and fades), never past 10 s or the last frame."""
    return round(max(0.0, min(duration_s * 0.1, 10.0, duration_s - 0.05)), 3)


def jpeg_frame(video: Any, out_file: Path) -> Any:
    """One picture of `video` as a JPEG: every poster's output, whatever it is taken from."""
    return ffmpeg.output(video, str(out_file), vframes=1, update=1, **{"q:v": 3}, f="image2")


def build_poster_args(
    video_file: Path, duration_s: float, out_file: Path, ffmpeg_bin: str = "ffmpeg"
) -> list[str]:
    src = ffmpeg.input(
        str(video_file), ss=poster_time(duration_s), protocol_whitelist=LOCAL_PROTOCOLS
    )
    return finish_args(jpeg_frame(src["v:0"], out_file), ffmpeg_bin)
