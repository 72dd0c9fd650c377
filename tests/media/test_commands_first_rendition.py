"""The first rendition's planner and argv builder (pure: no ffmpeg runs here)."""

from pathlib import Path

import pytest

from dailies.media.commands.first_rendition import (
    FIRST_SHORT_SIDE,
    build_first_rendition_args,
    plan_first_rendition,
)
from tests.media.conftest import opt, probe_of

PRORES = {"codec": "prores", "pix_fmt": "yuv422p10le", "audio_codec": "pcm_s24le"}


@pytest.mark.parametrize(
    ("kwargs", "copy"),
    [
        ({}, True),
        ({"audio_channels": None}, True),
        ({"width": 1280, "height": 720}, True),
        (PRORES, False),
        ({"pix_fmt": "yuv420p10le"}, False),
        ({"audio_codec": "pcm_s24le"}, False),
        ({"codec": "mpeg4"}, False),
        ({"width": 3840, "height": 2160}, False),
        ({"field_order": "tt"}, False),
        ({"rotation": 90}, False),
    ],
)
def test_browser_ready_masters_are_remuxed_and_the_rest_encoded(kwargs, copy):
    # 4 MB over 3 s: 10.7 Mbit/s, a rate a remux may keep
    assert plan_first_rendition(probe_of(**kwargs), 4_000_000).copy is copy


@pytest.mark.parametrize(
    ("size_bytes", "bit_rate", "copy"),
    [
        (9_375_000, None, True),  # 25 Mbit/s over 3 s: the most a remux keeps
        (9_375_400, None, False),  # just above
        (90_000_000, None, False),  # a 240 Mbit/s camera master: encoded, small and fast
        (90_000_000, "8000000", True),  # ffprobe's own rate wins over size / duration
        (1_000_000, "30000000", False),
    ],
)
def test_browser_ready_masters_above_25_mbits_are_encoded(size_bytes, bit_rate, copy):
    from dailies.media.probe import parse_probe
    from tests.media.conftest import ffprobe_doc

    doc = ffprobe_doc()
    if bit_rate:
        doc["format"]["bit_rate"] = bit_rate
    plan = plan_first_rendition(parse_probe(doc), size_bytes)
    assert plan.copy is copy
    assert (plan.width, plan.height) == ((1920, 1080) if copy else (960, 540))


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1920, 1080, (960, 540)),
        (3840, 2160, (960, 540)),
        (1280, 720, (960, 540)),
        (1080, 1920, (540, 960)),  # portrait: the short side is the width
        (640, 360, (640, 360)),  # never upscaled
        (853, 479, None),  # odd sides: rounded down to even
        (320, 240, None),
    ],
)
def test_encode_is_at_most_540p_never_upscaled_with_even_sides(width, height, expected):
    plan = plan_first_rendition(probe_of(width=width, height=height, **PRORES), 10_000_000)
    assert not plan.copy
    size = (plan.width, plan.height)
    assert size == (plan.rung.width, plan.rung.height)
    assert min(size) <= FIRST_SHORT_SIDE
    assert plan.width <= width and plan.height <= height
    assert plan.width % 2 == 0 and plan.height % 2 == 0
    if expected is not None:
        assert size == expected
    # The aspect is kept (within the rounding to even sides).
    assert plan.width / plan.height == pytest.approx(width / height, rel=0.01)


def test_copy_keeps_the_masters_size_and_estimates_its_rate():
    plan = plan_first_rendition(probe_of(duration="4.0"), 4_000_000)
    assert (plan.width, plan.height) == (1920, 1080)
    assert plan.peak_bps >= 8_000_000  # 4 MB over 4 s: at least the master's own 8 Mb/s
    assert plan.gop_frames == 30 and plan.has_audio


def _args(source: str, **kwargs) -> list[str]:
    probe = probe_of(**kwargs)
    plan = plan_first_rendition(probe, 4_000_000)
    return build_first_rendition_args(source, Path("/s/out"), probe, plan, "1")


def _common(args: list[str]) -> None:
    # Only what a presigned URL or a scratch file needs, before the input it guards.
    whitelist = args.index("-protocol_whitelist")
    assert whitelist < args.index("-i")
    assert set(args[whitelist + 1].split(",")) <= {"file", "http", "https", "tcp", "tls", "crypto"}
    assert opt(args, "-f") == "hls"
    assert opt(args, "-hls_playlist_type") == "event" and opt(args, "-hls_list_size") == "0"
    assert opt(args, "-hls_segment_type") == "fmp4"
    assert "temp_file" in opt(args, "-hls_flags")
    assert args[-1] == "/s/out/first/index.m3u8"
    assert opt(args, "-hls_segment_filename") == "/s/out/first/v1-%05d.m4s"


def test_copy_argv_is_a_remux_of_video_and_audio_over_http():
    args = _args("http://127.0.0.1:9000/masters/abc?X-Amz-Signature=1")
    _common(args)
    assert opt(args, "-hls_time") == "1"  # cut at the master's own keyframes
    assert "-force_key_frames" not in args
    assert opt(args, "-c") == "copy"
    assert args.count("-map") == 2
    assert opt(args, "-reconnect") == "1"  # a dropped connection resumes with a Range request
    for encode_only in ("-c:v", "-preset", "-tune", "-filter_complex"):
        assert encode_only not in args


def test_encode_argv_is_fast_small_x264_with_aac():
    args = _args("/s/master.mov", **PRORES)
    _common(args)
    assert "-c" not in args  # no stream copy anywhere
    assert opt(args, "-c:v") == "libx264"
    assert opt(args, "-preset") == "ultrafast" and opt(args, "-tune") == "zerolatency"
    assert opt(args, "-pix_fmt") == "yuv420p" and opt(args, "-profile:v") == "high"
    # a keyframe at 0.5 s, then one a second, at the same frames whatever the content: a
    # half-second opening segment, then 1 s ones
    assert opt(args, "-g") == opt(args, "-keyint_min") == "30"
    assert opt(args, "-force_key_frames") == "0.5" and opt(args, "-hls_time") == "0.5"
    assert opt(args, "-sc_threshold") == "0"
    assert "scale=960:540" in opt(args, "-filter_complex")
    assert opt(args, "-c:a") == "aac" and opt(args, "-ac") == "2"
    assert "-reconnect" not in args  # a local file: nothing to reconnect to


def test_encode_without_audio_maps_video_only():
    args = _args("/s/master.mov", audio_channels=None, **{**PRORES, "audio_codec": "aac"})
    assert args.count("-map") == 1 and "-c:a" not in args


def test_a_remux_promises_one_and_a_half_times_the_masters_own_rate() -> None:
    from dailies.media.probe import parse_probe
    from tests.media.conftest import ffprobe_doc

    doc = ffprobe_doc()
    doc["format"]["bit_rate"] = "8000000"
    assert plan_first_rendition(parse_probe(doc), 1).peak_bps == 12_000_000  # ffprobe's rate
    # Without one, the size over the duration (half a second here: not rounded up to 1 s).
    plan = plan_first_rendition(probe_of(duration="0.5"), 1_000_000)
    assert plan.peak_bps == 24_000_000 and plan.duration_s == 0.5


def test_an_encode_promises_its_rungs_cap_plus_the_audio() -> None:
    plan = plan_first_rendition(probe_of(**PRORES), 10_000_000)
    assert plan.peak_bps == plan.rung.maxrate + 128_000 == 2_753_000
    silent = plan_first_rendition(probe_of(audio_channels=None, **PRORES), 10_000_000)
    assert not silent.has_audio


def test_a_slideshow_first_rendition_has_a_keyframe_on_every_frame() -> None:
    assert plan_first_rendition(probe_of(rate="1/2", **PRORES), 10_000_000).gop_frames == 1
