"""The storyboard sprite sheet, made from a small finished rendition; planning the grid and
writing its WebVTT is dailies/media/storyboard.py."""

from __future__ import annotations

from pathlib import Path

import ffmpeg

from dailies.media.commands.common import finish_args
from dailies.media.storyboard import StoryboardPlan


def build_storyboard_args(
    video_file: Path, plan: StoryboardPlan, out_file: Path, ffmpeg_bin: str = "ffmpeg"
) -> list[str]:
    """One sprite sheet: a thumbnail every `interval_s`, tiled in a grid."""
    video = (
        ffmpeg.input(str(video_file))["v:0"]
        .filter("fps", fps=f"1/{plan.interval_s}")
        .filter("scale", plan.tile_width, plan.tile_height)
        .filter("tile", f"{plan.columns}x{plan.rows}")
    )
    out = ffmpeg.output(video, str(out_file), vframes=1, update=1, **{"q:v": 5}, f="image2")
    return finish_args(out, ffmpeg_bin)
