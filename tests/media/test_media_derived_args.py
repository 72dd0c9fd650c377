from pathlib import Path

import pytest

from dailies.media.derived_args import (
    browser_friendly,
    build_mp4_args,
    build_poster_args,
    build_storyboard_args,
    build_stream_copy_args,
    poster_time,
)
from dailies.media.storyboard import plan_storyboard
from tests.media.conftest import probe_of


def opt(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.mark.parametrize(
    ("kwargs", "friendly"),
    [
        ({}, True),
        ({"audio_channels": None}, True),
        ({"audio_codec": "pcm_s24le"}, False),
        ({"codec": "prores"}, False),
        ({"pix_fmt": "yuv420p10le"}, False),
        ({"width": 3840, "height": 2160}, False),
        ({"rotation": 90}, False),
        ({"field_order": "tt"}, False),
    ],
)
def test_browser_friendly_masters_are_stream_copied(kwargs, friendly):
    assert browser_friendly(probe_of(**kwargs)) is friendly


def test_stream_copy_is_a_remux_into_fmp4_hls():
    args = build_stream_copy_args("/s/master", Path("/s/copy"), True, "1")
    assert opt(args, "-c") == "copy" and opt(args, "-f") == "hls"
    assert opt(args, "-hls_segment_type") == "fmp4" and opt(args, "-hls_playlist_type") == "vod"
    assert args[-1] == "/s/copy/source/index.m3u8"
    assert args.count("-map") == 2


def test_mp4_remuxes_a_rendition_with_faststart():
    args = build_mp4_args(Path("/s/720p.mp4"), Path("/s/audio.mp4"), Path("/s/preview.mp4"))
    assert args.count("-i") == 2 and opt(args, "-c") == "copy"
    assert opt(args, "-movflags") == "+faststart" and args[-1] == "/s/preview.mp4"
    assert build_mp4_args(Path("/s/v.mp4"), None, Path("/s/p.mp4")).count("-map") == 1


@pytest.mark.parametrize(
    ("duration", "at"), [(3.0, 0.3), (0.04, 0.0), (60.0, 6.0), (3600.0, 10.0), (0.5, 0.05)]
)
def test_poster_is_a_tenth_in_and_inside_the_clip(duration, at):
    assert poster_time(duration) == at


def test_poster_seeks_then_takes_one_frame():
    args = build_poster_args(Path("/s/1080p.mp4"), 30.0, Path("/s/poster.jpg"))
    assert opt(args, "-ss") == "3.0" and args.index("-ss") < args.index("-i")
    assert opt(args, "-vframes") == "1"


def test_storyboard_tiles_thumbnails():
    plan = plan_storyboard(25.0, 640, 360)
    args = build_storyboard_args(Path("/s/360p.mp4"), plan, Path("/s/sb.jpg"))
    assert "fps=fps=1/1" in opt(args, "-filter_complex")
    assert "scale=160:90" in opt(args, "-filter_complex")
    assert "tile=10x3" in opt(args, "-filter_complex")
