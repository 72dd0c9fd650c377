"""Where the command builders' limits start to apply, one frame, pixel or millisecond either
side (the builders' ordinary cases are in the test_commands_*.py files)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from dailies.media.commands.ladder import cpu_video_filters
from dailies.media.commands.poster import poster_time
from dailies.media.commands.stream_copy import browser_friendly
from tests.media.conftest import probe_of


def test_an_interlaced_hdr_master_is_deinterlaced_then_tone_mapped():
    probe = probe_of(field_order="tt", transfer="smpte2084", pix_fmt="yuv420p10le")
    names = [name for name, _, _ in cpu_video_filters(probe, Fraction(25))]
    assert names == ["bwdif", "zscale", "format", "zscale", "tonemap", "zscale", "fps", "format"]


def test_the_poster_time_is_kept_to_the_millisecond():
    assert poster_time(1.2345) == 0.123  # a tenth in: 0.12345 s


@pytest.mark.parametrize(
    ("width", "height", "friendly"),
    [(1920, 1080, True), (1440, 1081, False), (1921, 1080, False), (1080, 1920, True)],
)
def test_stream_copy_stops_above_1080p(width, height, friendly):
    assert browser_friendly(probe_of(width=width, height=height)) is friendly
