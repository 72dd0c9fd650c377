from pathlib import Path

import pytest

from dailies.media.commands.ladder import (
    EncodeSettings,
    build_ladder_args,
    full_gpu,
    var_stream_map,
)
from dailies.media.encoders import NVENC, X264
from dailies.media.ladder import plan_ladder
from tests.media.conftest import opt, probe_of

OUT = Path("/scratch/hls")


def ladder_args(encoder: str = X264, **probe_kwargs) -> list[str]:
    probe = probe_of(**probe_kwargs)
    plan = plan_ladder(probe)
    settings = EncodeSettings(encoder=encoder, x264_preset="superfast", nvenc_preset="p5")
    return build_ladder_args("/scratch/master", OUT, probe, plan, settings, "1")


def graph(args: list[str]) -> str:
    return opt(args, "-filter_complex")


def test_one_process_splits_once_into_every_rung():
    args = ladder_args()
    assert args[0] == "ffmpeg" and args.count("-i") == 1
    assert "split=4" in graph(args)
    for size in ("1920:1080", "1280:720", "960:540", "640:360"):
        assert f"scale={size}" in graph(args)
    assert opt(args, "-var_stream_map") == (
        "v:0,agroup:aud,name:1080p v:1,agroup:aud,name:720p v:2,agroup:aud,name:540p "
        "v:3,agroup:aud,name:360p a:0,agroup:aud,name:audio"
    )
    # 4 video outputs + 1 audio, each mapped once
    assert args.count("-map") == 5


def test_fixed_gop_aligned_keyframes_and_fmp4_hls():
    args = ladder_args(rate="25/1")
    assert opt(args, "-g") == "50" and opt(args, "-keyint_min") == "50"
    assert opt(args, "-sc_threshold") == "0"
    assert opt(args, "-f") == "hls"
    assert opt(args, "-hls_segment_type") == "fmp4"
    assert opt(args, "-hls_playlist_type") == "event"
    assert "independent_segments" in opt(args, "-hls_flags")
    assert opt(args, "-hls_time") == "4"
    assert opt(args, "-hls_segment_filename") == "/scratch/hls/%v/v1-%05d.m4s"
    assert args[-1] == "/scratch/hls/%v/index.m3u8"
    assert "fps=fps=25" in graph(args)


def test_x264_high_profile_preset_and_capped_bitrates():
    args = ladder_args()
    assert opt(args, "-c:v") == "libx264" and opt(args, "-profile:v") == "high"
    assert opt(args, "-preset") == "superfast"
    assert opt(args, "-pix_fmt") == "yuv420p"
    assert int(opt(args, "-maxrate:v:0")) > int(opt(args, "-b:v:0")) > int(opt(args, "-b:v:3"))


def test_audio_is_aac_stereo_48k_encoded_once():
    args = ladder_args(audio_channels=6)
    assert opt(args, "-c:a") == "aac" and opt(args, "-b:a") == "128000" and opt(args, "-ac") == "2"
    assert "aresample=48000:async=1:first_pts=0" in graph(args)
    assert "aformat=channel_layouts=stereo" in graph(args)


def test_no_audio_means_a_video_only_ladder():
    args = ladder_args(audio_channels=None)
    assert "-c:a" not in args and "agroup" not in opt(args, "-var_stream_map")
    assert "[0:a" not in graph(args)


@pytest.mark.parametrize(
    ("kwargs", "present", "absent"),
    [
        ({}, ["fps=", "format=yuv420p"], ["bwdif", "zscale", "tonemap"]),
        ({"field_order": "tt"}, ["bwdif=deint=interlaced:mode=send_frame"], ["tonemap"]),
        (
            {"pix_fmt": "yuv420p10le", "transfer": "smpte2084"},
            ["zscale=npl=100:t=linear", "tonemap=desat=0:tonemap=hable", "zscale=m=bt709"],
            ["bwdif"],
        ),
        ({"pix_fmt": "yuv420p10le"}, ["format=yuv420p"], ["tonemap"]),
    ],
)
def test_cpu_filters_follow_the_source(kwargs, present, absent):
    text = graph(ladder_args(**kwargs))
    for needle in present:
        assert needle in text
    for needle in absent:
        assert needle not in text


@pytest.mark.parametrize(
    ("kwargs", "gpu"),
    [
        ({}, True),
        ({"codec": "prores", "pix_fmt": "yuv422p10le"}, False),
        ({"pix_fmt": "yuv420p10le"}, False),
        ({"pix_fmt": "yuv420p10le", "transfer": "smpte2084"}, False),
        ({"rotation": 90}, False),
        ({"field_order": "tt"}, True),  # yadif_cuda
    ],
)
def test_full_gpu_only_where_cuda_filters_suffice(kwargs, gpu):
    assert full_gpu(probe_of(**kwargs)) is gpu


def test_nvenc_full_gpu_decode_and_scale():
    args = ladder_args(NVENC)
    assert opt(args, "-hwaccel") == "cuda" and opt(args, "-hwaccel_output_format") == "cuda"
    assert "scale_cuda=1280:720:format=yuv420p" in graph(args)
    assert "scale=1280" not in graph(args).replace("scale_cuda", "")
    assert opt(args, "-c:v") == "h264_nvenc" and opt(args, "-preset") == "p5"
    assert opt(args, "-no-scenecut") == "1" and opt(args, "-forced-idr") == "1"
    assert opt(args, "-strict_gop") == "1" and opt(args, "-rc") == "vbr"
    assert "-sc_threshold" not in args and "-pix_fmt" not in args


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rotation": 90},
        {"pix_fmt": "yuv420p10le", "transfer": "smpte2084"},
    ],
)
def test_nvenc_uses_cpu_filters_where_cuda_cannot(kwargs):
    args = ladder_args(NVENC, **kwargs)
    assert "-hwaccel" not in args
    assert "scale_cuda" not in graph(args)
    assert opt(args, "-c:v") == "h264_nvenc" and opt(args, "-pix_fmt") == "yuv420p"


def test_nvenc_interlaced_deinterlaces_on_gpu():
    assert "yadif_cuda" in graph(ladder_args(NVENC, field_order="tt"))


def test_presigned_url_input_reconnects():
    probe = probe_of()
    settings = EncodeSettings(encoder=X264)
    args = build_ladder_args(
        "https://s3/masters/x?sig=1", OUT, probe, plan_ladder(probe), settings, "1"
    )
    assert opt(args, "-reconnect") == "1"


def test_var_stream_map_names_renditions_by_short_side():
    plan = plan_ladder(probe_of(width=1080, height=1920, audio_channels=None))
    assert var_stream_map(plan) == "v:0,name:1080p v:1,name:720p v:2,name:540p v:3,name:360p"
