"""The storyboard sprite sheet, made from a small finished rendition; planning the grid and
writing its WebVTT is dailies/media/storyboard.py."""

from __future__ import annotations

from pathlib import Path

import ffmpeg

from dailies.media.commands.common import LOCAL_PROTOCOLS, finish_args
from dailies.media.storyboard import StoryboardPlan


def build_storyboard_args(
    video_file: Path, plan: StoryboardPlan, out_file: Path, ffmpeg_bin: str = "ffmpeg"
) -> list[str]:
    """One sprite sheet: the first frame of every `interval_s` window, tiled in a grid."""
    video = (
        ffmpeg.input(str(video_file), protocol_whitelist=LOCAL_PROTOCOLS)["v:0"]
        # `select`, not `fps`: fps rounds to its output grid, so a clip shorter than half an
        # interval yields no frame (and no sprite); the first frame is always selected.
        .filter("select", first_frame_per_window(plan.interval_s))
        .filter("scale", plan.tile_width, plan.tile_height)
        # A partly filled grid is still written when the frames run out.
        .filter("tile", f"{plan.columns}x{plan.rows}")
    )
    out = ffmpeg.output(video, str(out_file), vframes=1, update=1, **{"q:v": 5}, f="image2")
    return finish_args(out, ffmpeg_bin)


def first_frame_per_window(interval_s: int) -> str:
    """A `select` expression: the first frame, then the first of each later window of
    `interval_s` seconds (counted from the first frame, so no drift accumulates)."""
    window = f"floor((t-start_t)/{interval_s})"
    previous = f"floor((prev_selected_t-start_t)/{interval_s})"
    return f"isnan(prev_selected_t)+gt({window},{previous})"
