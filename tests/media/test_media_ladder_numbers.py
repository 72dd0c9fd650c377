"""The ladder's numbers, exactly: bitrates by size and rate, the frame-rate snapping bounds,
near-duplicate rungs, tiny and slideshow masters (test_media_ladder.py has the shapes)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from dailies.media.ladder import (
    format_rate,
    output_frame_rate,
    plan_ladder,
    video_bitrate,
)
from tests.media.conftest import probe_of


@pytest.mark.parametrize(
    ("width", "height", "rate", "bps"),
    [
        (1920, 1080, 30, 5_000_000),  # the reference
        (1920, 1080, 24, 5_000_000),  # lower rates get no fewer bits
        (1920, 1080, 60, 7_050_000),  # twice the rate: √2 the bits
        (1920, 1080, 50, 6_450_000),
        (1280, 720, 30, 2_700_000),  # pixels to the 0.75 power
        (3840, 2160, 30, 14_150_000),
        (640, 360, 30, 950_000),
        (16, 16, 30, 100_000),  # never below 100 kb/s
    ],
)
def test_video_bitrate(width: int, height: int, rate: int, bps: int) -> None:
    assert video_bitrate(width, height, Fraction(rate)) == bps


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("61.2", "60"),  # at the 2 % tolerance above 60: still 60, not halved
        ("61", "60"),
        ("61.5", "30.75"),  # beyond it: halved, then kept (not near a standard rate)
        ("30.6", "30"),  # exactly 2 % off a standard rate snaps
        ("23.4", "23.4"),  # 2.4 % off 23.976: kept to the millifps
        ("1/2", "1/2"),
    ],
)
def test_frame_rate_snapping_bounds(rate: str, expected: str) -> None:
    assert output_frame_rate(Fraction(rate)) == Fraction(expected)


@pytest.mark.parametrize(
    ("rate", "text"),
    [(Fraction(25), "25"), (Fraction(24000, 1001), "24000/1001"), (Fraction(1, 2), "1/2")],
)
def test_format_rate(rate: Fraction, text: str) -> None:
    assert format_rate(rate) == text


def test_a_rung_at_85_percent_of_the_top_is_a_near_duplicate() -> None:
    plan = plan_ladder(probe_of(width=1000, height=1000), targets=(1000, 850, 849))
    assert [r.name for r in plan.rungs] == ["1000p", "848p"]


def test_every_rung_is_capped_at_one_and_a_half_times_its_rate_with_two_seconds_of_buffer() -> None:
    plan = plan_ladder(probe_of(duration="12.5"))
    assert [(r.video_bitrate, r.maxrate, r.bufsize) for r in plan.rungs] == [
        (5_000_000, 7_500_000, 10_000_000),
        (2_700_000, 4_050_000, 5_400_000),
        (1_750_000, 2_625_000, 3_500_000),
        (950_000, 1_425_000, 1_900_000),
    ]
    assert plan.duration_s == 12.5


def test_a_slideshow_master_gets_a_keyframe_on_every_frame() -> None:
    plan = plan_ladder(probe_of(rate="1/2"))
    assert plan.frame_rate == Fraction(1, 2) and plan.gop_frames == 1
