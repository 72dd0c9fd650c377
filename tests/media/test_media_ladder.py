from fractions import Fraction

import pytest

from dailies.media.ladder import (
    GOP_S,
    even,
    output_frame_rate,
    plan_ladder,
    scaled_size,
)
from tests.media.conftest import probe_of


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ((3840, 2160), ["1080p", "720p", "540p", "360p"]),
        ((1920, 1080), ["1080p", "720p", "540p", "360p"]),
        ((1280, 720), ["720p", "540p", "360p"]),
        ((1280, 740), ["740p", "540p", "360p"]),  # 720p would nearly duplicate 740p
        ((1000, 1000), ["1000p", "720p", "540p", "360p"]),
        ((853, 479), ["478p", "360p"]),  # odd sides
        ((320, 240), ["240p"]),  # smaller than every rung: one rendition, never upscaled
    ],
)
def test_ladder_is_capped_at_the_source(source, names):
    plan = plan_ladder(probe_of(width=source[0], height=source[1]))
    assert [r.name for r in plan.rungs] == names
    for rung in plan.rungs:
        assert rung.width <= source[0] and rung.height <= source[1]
        assert rung.width % 2 == 0 and rung.height % 2 == 0


@pytest.mark.parametrize(
    ("kwargs", "top"),
    [
        ({"width": 1920, "height": 1080, "rotation": 90}, (1080, 1920)),
        ({"width": 3840, "height": 2160, "rotation": 270}, (1080, 1920)),
        ({"width": 1080, "height": 1920}, (1080, 1920)),
    ],
)
def test_portrait_masters_get_portrait_renditions(kwargs, top):
    plan = plan_ladder(probe_of(**kwargs))
    assert (plan.top.width, plan.top.height) == top
    assert all(r.height > r.width for r in plan.rungs)


@pytest.mark.parametrize(
    ("size", "short", "expected"),
    [
        ((1920, 1080), 720, (1280, 720)),
        ((853, 479), 360, (640, 360)),
        ((1080, 1920), 540, (540, 960)),
        ((2048, 858), 360, (858, 360)),  # scope
    ],
)
def test_scaled_size_keeps_aspect_with_even_sides(size, short, expected):
    assert scaled_size(*size, short) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(1.0, 2), (479, 478), (480.9, 480), (0, 2), (1280.0, 1280)]
)
def test_even(value, expected):
    assert even(value) == expected


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("30", "30"),
        ("30000/1001", "30000/1001"),
        ("2987/100", "30000/1001"),  # VFR phone average snaps to the nearest standard
        ("25", "25"),
        ("120", "60"),
        ("240", "60"),
        ("119.88", "60000/1001"),
        ("15", "15"),
    ],
)
def test_output_frame_rate_is_constant_standard_and_capped(rate, expected):
    assert output_frame_rate(Fraction(rate)) == Fraction(expected)


def test_gop_is_fixed_in_frames_and_bitrates_fall_with_size():
    plan = plan_ladder(probe_of(rate="30000/1001"))
    assert plan.gop_frames == round(Fraction(30000, 1001) * GOP_S) == 60
    rates = [r.video_bitrate for r in plan.rungs]
    assert rates == sorted(rates, reverse=True)
    assert all(r.maxrate > r.video_bitrate and r.bufsize >= r.maxrate for r in plan.rungs)


@pytest.mark.parametrize(
    ("source", "mp4"),
    [((1920, 1080), "720p"), ((1280, 720), "720p"), ((853, 479), "478p"), ((320, 240), "240p")],
)
def test_mp4_is_720p_or_the_source_when_smaller(source, mp4):
    plan = plan_ladder(probe_of(width=source[0], height=source[1]))
    assert plan.mp4_rung().name == mp4


def test_audio_follows_the_master():
    assert plan_ladder(probe_of()).has_audio
    assert not plan_ladder(probe_of(audio_channels=None)).has_audio
