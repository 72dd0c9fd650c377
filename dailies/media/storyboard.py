"""Storyboard for scrubbing: one sprite sheet and a WebVTT file of `#xywh=` cues into it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dailies.media.ladder import even

TILE_LONG_SIDE = 160
MAX_TILES = 100
MAX_COLUMNS = 10


@dataclass(frozen=True)
class StoryboardPlan:
    interval_s: int
    count: int
    columns: int
    rows: int
    tile_width: int
    tile_height: int


def plan_storyboard(duration_s: float, width: int, height: int) -> StoryboardPlan:
    """At most 100 thumbnails, at least one a second apart, in rows of up to 10."""
    interval = max(1, math.ceil(duration_s / MAX_TILES))
    count = max(1, min(MAX_TILES, math.ceil(duration_s / interval)))
    columns = min(count, MAX_COLUMNS)
    rows = math.ceil(count / columns)
    if width >= height:
        tile_w, tile_h = TILE_LONG_SIDE, even(TILE_LONG_SIDE * height / width)
    else:
        tile_w, tile_h = even(TILE_LONG_SIDE * width / height), TILE_LONG_SIDE
    return StoryboardPlan(interval, count, columns, rows, tile_w, tile_h)


def vtt_timestamp(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def render_storyboard_vtt(plan: StoryboardPlan, duration_s: float, sprite_uri: str) -> str:
    lines = ["WEBVTT", ""]
    for index in range(plan.count):
        start = index * plan.interval_s
        end = min((index + 1) * plan.interval_s, duration_s)
        if end <= start:
            break
        x = (index % plan.columns) * plan.tile_width
        y = (index // plan.columns) * plan.tile_height
        lines += [
            f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}",
            f"{sprite_uri}#xywh={x},{y},{plan.tile_width},{plan.tile_height}",
            "",
        ]
    return "\n".join(lines)


def has_cues(vtt: str) -> bool:
    """Whether a storyboard WebVTT points at any tile (a zero-length clip gets none)."""
    return "#xywh=" in vtt
