from pathlib import Path

import pytest

from dailies.media.commands.stream_copy import browser_friendly, build_stream_copy_args
from tests.media.conftest import opt, probe_of


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
