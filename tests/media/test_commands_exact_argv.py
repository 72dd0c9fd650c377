"""Every ffmpeg/ffprobe command, option for option: the argv is what these builders promise.

The other test_commands_* files say why each option is there; these pin the whole command, so
a dropped, renamed or changed option (found by `make mutants`) fails here. Output options are
compared as a dict because ffmpeg does not care about their order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dailies.media.commands.first_rendition import (
    build_first_poster_args,
    build_first_rendition_args,
    plan_first_rendition,
)
from dailies.media.commands.ladder import EncodeSettings, build_ladder_args
from dailies.media.commands.mp4 import build_mp4_args
from dailies.media.commands.poster import build_poster_args
from dailies.media.commands.probe import ffprobe_args
from dailies.media.commands.storyboard import build_storyboard_args
from dailies.media.commands.stream_copy import build_stream_copy_args
from dailies.media.encoders import NVENC, X264
from dailies.media.ladder import plan_ladder
from dailies.media.storyboard import StoryboardPlan
from tests.media.conftest import probe_of

GLOBAL = ["-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1", "-nostats", "-y"]
URL = "file,http,https,tcp,tls,crypto"
OUT = Path("/o")
PRORES = {"codec": "prores", "pix_fmt": "yuv422p10le", "audio_codec": "pcm_s24le"}
HLS_EVENT = {
    "f": "hls",
    "hls_flags": "independent_segments+temp_file",
    "hls_list_size": "0",
    "hls_playlist_type": "event",
    "hls_segment_type": "fmp4",
    "map_chapters": "-1",
    "map_metadata": "-1",
    "max_muxing_queue_size": "4096",
}
AUDIO_CHAIN = "[0:a:0]aresample=48000:async=1:first_pts=0[{a}];[{a}]aformat=channel_layouts=stereo"
AAC = {"c:a": "aac", "b:a": "128000", "ac": "2"}
TONEMAP = (
    "zscale=npl=100:t=linear[s0];[s0]format=gbrpf32le[s1];[s1]zscale=p=bt709[s2];"
    "[s2]tonemap=desat=0:tonemap=hable[s3];[s3]zscale=m=bt709:r=tv:t=bt709[s4]"
)


def parse(args: list[str]) -> dict[str, Any]:
    """An ffmpeg argv as binary, inputs (options, url), graph, maps, output options and file."""
    assert args[1 : 1 + len(GLOBAL)] == GLOBAL, "global options first, progress on stdout"
    rest = args[1 + len(GLOBAL) : -1]
    inputs: list[tuple[dict[str, str], str]] = []
    options: dict[str, str] = {}
    maps: list[str] = []
    graph = None
    pairs = iter(zip(rest[::2], rest[1::2], strict=True))
    for name, value in pairs:
        assert name.startswith("-"), (name, value)
        if name == "-i":
            inputs.append((options, value))
            options = {}
        elif name == "-filter_complex":
            graph = value
        elif name == "-map":
            maps.append(value)
        else:
            assert name[1:] not in options, f"{name} given twice"
            options[name[1:]] = value
    return {
        "bin": args[0],
        "inputs": inputs,
        "graph": graph,
        "maps": maps,
        "output": options,
        "to": args[-1],
    }


def test_x264_ladder_from_a_local_master():
    probe = probe_of()
    args = build_ladder_args(
        "/m/master.mov", OUT, probe, plan_ladder(probe), EncodeSettings(X264), "2"
    )
    scales = "".join(
        f";[s{2 + i}]scale={size}[s{6 + 2 * i}];[s{6 + 2 * i}]setsar=1[s{7 + 2 * i}]"
        for i, size in enumerate(("1920:1080", "1280:720", "960:540", "640:360"))
    )
    assert parse(args) == {
        "bin": "ffmpeg",
        "inputs": [({"protocol_whitelist": "file"}, "/m/master.mov")],
        "graph": "[0:v:0]fps=fps=30[s0];[s0]format=yuv420p[s1];[s1]split=4[s2][s3][s4][s5]"
        + scales
        + ";"
        + AUDIO_CHAIN.format(a="s14")
        + "[s15]",
        "maps": ["[s7]", "[s9]", "[s11]", "[s13]", "[s15]"],
        "output": {
            **HLS_EVENT,
            **AAC,
            "c:v": "libx264",
            "profile:v": "high",
            "preset": "veryfast",
            "pix_fmt": "yuv420p",
            "g": "60",
            "keyint_min": "60",
            "sc_threshold": "0",
            **{f"b:v:{i}": str(b) for i, b in enumerate((5000000, 2700000, 1750000, 950000))},
            **{
                f"maxrate:v:{i}": str(b) for i, b in enumerate((7500000, 4050000, 2625000, 1425000))
            },
            **{
                f"bufsize:v:{i}": str(b)
                for i, b in enumerate((10000000, 5400000, 3500000, 1900000))
            },
            "hls_time": "4",
            "hls_fmp4_init_filename": "v2-init-%v.mp4",
            "hls_segment_filename": "/o/%v/v2-%05d.m4s",
            "var_stream_map": "v:0,agroup:aud,name:1080p v:1,agroup:aud,name:720p "
            "v:2,agroup:aud,name:540p v:3,agroup:aud,name:360p a:0,agroup:aud,name:audio",
        },
        "to": "/o/%v/index.m3u8",
    }


NVENC_OPTIONS = {
    "c:v": "h264_nvenc",
    "profile:v": "high",
    "preset": "p4",
    "tune": "hq",
    "rc": "vbr",
    "no-scenecut": "1",
    "forced-idr": "1",
    "strict_gop": "1",
    "bf": "2",
    "spatial-aq": "1",
    "g": "60",
    **{f"b:v:{i}": str(b) for i, b in enumerate((2700000, 1750000, 950000))},
    **{f"maxrate:v:{i}": str(b) for i, b in enumerate((4050000, 2625000, 1425000))},
    **{f"bufsize:v:{i}": str(b) for i, b in enumerate((5400000, 3500000, 1900000))},
    "hls_time": "4",
    "hls_fmp4_init_filename": "v2-init-%v.mp4",
    "hls_segment_filename": "/o/%v/v2-%05d.m4s",
}


def test_nvenc_ladder_of_an_interlaced_master_stays_on_the_gpu():
    probe = probe_of(width=1280, height=720, field_order="tt", audio_channels=None)
    args = build_ladder_args(
        "https://s3/m?sig=1", OUT, probe, plan_ladder(probe), EncodeSettings(NVENC), "2"
    )
    assert parse(args) == {
        "bin": "ffmpeg",
        "inputs": [
            (
                {
                    "hwaccel": "cuda",
                    "hwaccel_output_format": "cuda",
                    "protocol_whitelist": URL,
                    "reconnect": "1",
                    "reconnect_delay_max": "30",
                },
                "https://s3/m?sig=1",
            )
        ],
        "graph": "[0:v:0]yadif_cuda=deint=interlaced:mode=send_frame[s0];[s0]fps=fps=30[s1];"
        "[s1]split=3[s2][s3][s4];[s2]scale_cuda=1280:720:format=yuv420p[s5];"
        "[s3]scale_cuda=960:540:format=yuv420p[s6];[s4]scale_cuda=640:360:format=yuv420p[s7]",
        "maps": ["[s5]", "[s6]", "[s7]"],
        "output": {
            **HLS_EVENT,
            **NVENC_OPTIONS,
            "var_stream_map": "v:0,name:720p v:1,name:540p v:2,name:360p",
        },
        "to": "/o/%v/index.m3u8",
    }


def test_nvenc_ladder_of_an_hdr_master_tone_maps_on_the_cpu_and_uploads_8_bit_frames():
    probe = probe_of(width=1280, height=720, pix_fmt="yuv420p10le", transfer="smpte2084")
    settings = EncodeSettings(NVENC, ffmpeg_bin="/opt/ffmpeg")
    args = build_ladder_args("http://s3/m", OUT, probe, plan_ladder(probe), settings, "2")
    scales = "".join(
        f";[s{7 + i}]scale={size}[s{10 + 2 * i}];[s{10 + 2 * i}]setsar=1[s{11 + 2 * i}]"
        for i, size in enumerate(("1280:720", "960:540", "640:360"))
    )
    assert parse(args) == {
        "bin": "/opt/ffmpeg",
        "inputs": [
            (
                {"protocol_whitelist": URL, "reconnect": "1", "reconnect_delay_max": "30"},
                "http://s3/m",
            )
        ],
        "graph": f"[0:v:0]{TONEMAP};[s4]fps=fps=30[s5];[s5]format=yuv420p[s6];"
        "[s6]split=3[s7][s8][s9]" + scales + ";" + AUDIO_CHAIN.format(a="s16") + "[s17]",
        "maps": ["[s11]", "[s13]", "[s15]", "[s17]"],
        "output": {
            **HLS_EVENT,
            **NVENC_OPTIONS,
            **AAC,
            "pix_fmt": "yuv420p",
            "var_stream_map": "v:0,agroup:aud,name:720p v:1,agroup:aud,name:540p "
            "v:2,agroup:aud,name:360p a:0,agroup:aud,name:audio",
        },
        "to": "/o/%v/index.m3u8",
    }


FIRST_HLS = {
    **HLS_EVENT,
    "hls_time": "1",
    "hls_fmp4_init_filename": "v2-init.mp4",
    "hls_segment_filename": "/o/first/v2-%05d.m4s",
}
FAST_X264 = {
    "c:v": "libx264",
    "preset": "ultrafast",
    "tune": "zerolatency",
    "profile:v": "high",
    "pix_fmt": "yuv420p",
    "g": "30",
    "keyint_min": "30",
    "force_key_frames": "0.5",
    "sc_threshold": "0",
    "b:v": "1750000",
    "maxrate": "2625000",
    "bufsize": "3500000",
}


def first_rendition(source: str, **kwargs: Any) -> dict[str, Any]:
    probe = probe_of(**kwargs)
    plan = plan_first_rendition(probe, 4_000_000)  # 10.7 Mbit/s: a rate a remux may keep
    return parse(build_first_rendition_args(source, OUT, probe, plan, "2"))


def test_first_rendition_remuxes_a_browser_ready_master_from_a_presigned_url():
    assert first_rendition("https://s3/m?sig=1") == {
        "bin": "ffmpeg",
        "inputs": [
            (
                {"protocol_whitelist": URL, "reconnect": "1", "reconnect_delay_max": "10"},
                "https://s3/m?sig=1",
            )
        ],
        "graph": None,
        "maps": ["0:v:0", "0:a:0"],
        "output": {**FIRST_HLS, "c": "copy"},
        "to": "/o/first/index.m3u8",
    }


def test_first_rendition_remux_of_a_silent_master_maps_video_only():
    assert first_rendition("/m/master.mp4", audio_channels=None)["maps"] == ["0:v:0"]


def test_first_rendition_of_interlaced_prores_deinterlaces_scales_then_converts():
    assert first_rendition("/m/master.mov", field_order="tt", **PRORES) == {
        "bin": "ffmpeg",
        "inputs": [({"protocol_whitelist": "file"}, "/m/master.mov")],
        "graph": "[0:v:0]bwdif=deint=interlaced:mode=send_frame[s0];[s0]scale=960:540[s1];"
        "[s1]format=yuv420p[s2];[s2]setsar=1[s3];[s3]fps=fps=30[s4];"
        + AUDIO_CHAIN.format(a="s5")
        + "[s6]",
        "maps": ["[s4]", "[s6]"],
        "output": {**FIRST_HLS, **FAST_X264, **AAC, "hls_time": "0.5"},
        "to": "/o/first/index.m3u8",
    }


def test_first_rendition_of_a_silent_hdr_master_tone_maps_like_the_ladder_then_scales():
    args = first_rendition(
        "/m/master.mov", rate="24000/1001", pix_fmt="yuv420p10le", transfer="arib-std-b67",
        audio_channels=None,
    )  # fmt: skip
    assert args == {
        "bin": "ffmpeg",
        "inputs": [({"protocol_whitelist": "file"}, "/m/master.mov")],
        "graph": f"[0:v:0]{TONEMAP};[s4]fps=fps=24000/1001[s5];[s5]format=yuv420p[s6];"
        "[s6]scale=960:540[s7];[s7]setsar=1[s8]",
        "maps": ["[s8]"],
        "output": {**FIRST_HLS, **FAST_X264, "g": "24", "keyint_min": "24", "hls_time": "0.5"},
        "to": "/o/first/index.m3u8",
    }


SOURCE_HLS = {
    "f": "hls",
    "c": "copy",
    "map_metadata": "-1",
    "hls_flags": "independent_segments",
    "hls_fmp4_init_filename": "v2-init.mp4",
    "hls_list_size": "0",
    "hls_playlist_type": "vod",
    "hls_segment_filename": "/o/source/v2-%05d.m4s",
    "hls_segment_type": "fmp4",
    "hls_time": "4",
}


@pytest.mark.parametrize(
    ("source", "has_audio", "whitelist", "maps"),
    [
        ("http://s3/m", True, URL, ["0:v:0", "0:a:0"]),
        ("https://s3/m", False, URL, ["0:v:0"]),
        ("/m/master.mp4", False, "file", ["0:v:0"]),
    ],
)
def test_stream_copy_remuxes_into_one_vod_rendition(source, has_audio, whitelist, maps):
    assert parse(build_stream_copy_args(source, OUT, has_audio, "2")) == {
        "bin": "ffmpeg",
        "inputs": [({"protocol_whitelist": whitelist}, source)],
        "graph": None,
        "maps": maps,
        "output": SOURCE_HLS,
        "to": "/o/source/index.m3u8",
    }
    assert build_stream_copy_args(source, OUT, has_audio, "2", "/opt/ffmpeg")[0] == "/opt/ffmpeg"


def test_mp4_is_a_faststart_remux_of_the_video_and_audio_renditions():
    args = build_mp4_args(Path("/o/540p.mp4"), Path("/o/audio.mp4"), Path("/o/preview.mp4"))
    assert parse(args) == {
        "bin": "ffmpeg",
        "inputs": [
            ({"protocol_whitelist": "file"}, "/o/540p.mp4"),
            ({"protocol_whitelist": "file"}, "/o/audio.mp4"),
        ],
        "graph": None,
        "maps": ["0:v:0", "1:a:0"],
        "output": {"f": "mp4", "c": "copy", "movflags": "+faststart"},
        "to": "/o/preview.mp4",
    }


def test_mp4_of_a_silent_master_has_one_input():
    args = build_mp4_args(Path("/o/540p.mp4"), None, Path("/o/preview.mp4"), "/opt/ffmpeg")
    parsed = parse(args)
    assert parsed["bin"] == "/opt/ffmpeg"
    assert parsed["inputs"] == [({"protocol_whitelist": "file"}, "/o/540p.mp4")]
    assert parsed["maps"] == ["0:v:0"]


def test_poster_is_one_jpeg_frame_seeked_to_on_the_input():
    args = build_poster_args(Path("/o/540p.mp4"), 30.0, Path("/o/poster.jpg"))
    assert parse(args) == {
        "bin": "ffmpeg",
        "inputs": [({"protocol_whitelist": "file", "ss": "3.0"}, "/o/540p.mp4")],
        "graph": None,
        "maps": ["0:v:0"],
        "output": {"f": "image2", "q:v": "3", "update": "1", "vframes": "1"},
        "to": "/o/poster.jpg",
    }
    assert build_poster_args(Path("/a"), 1.0, Path("/b"), "/opt/ffmpeg")[0] == "/opt/ffmpeg"


def first_poster(source: str, ffmpeg_bin: str = "ffmpeg", **kwargs: Any) -> dict[str, Any]:
    probe = probe_of(**kwargs)
    plan = plan_first_rendition(probe, 4_000_000)
    return parse(build_first_poster_args(source, probe, plan, Path("/o/p.jpg"), ffmpeg_bin))


POSTER_JPEG = {"f": "image2", "q:v": "3", "update": "1", "vframes": "1"}


def test_first_poster_of_a_browser_ready_master_is_its_first_picture_as_it_is():
    assert first_poster("https://s3/m?sig=1", "/opt/ffmpeg") == {
        "bin": "/opt/ffmpeg",
        "inputs": [({"protocol_whitelist": URL}, "https://s3/m?sig=1")],
        "graph": None,
        "maps": ["0:v:0"],
        "output": POSTER_JPEG,
        "to": "/o/p.jpg",
    }


def test_first_poster_of_interlaced_prores_is_the_first_renditions_picture():
    """The same chain as the first rendition's encode, so the poster is its first picture."""
    assert first_poster("/m/master.mov", field_order="tt", **PRORES) == {
        "bin": "ffmpeg",
        "inputs": [({"protocol_whitelist": "file"}, "/m/master.mov")],
        "graph": "[0:v:0]bwdif=deint=interlaced:mode=send_frame[s0];[s0]scale=960:540[s1];"
        "[s1]format=yuv420p[s2];[s2]setsar=1[s3];[s3]fps=fps=30[s4]",
        "maps": ["[s4]"],
        "output": POSTER_JPEG,
        "to": "/o/p.jpg",
    }


def test_storyboard_is_one_tiled_jpeg():
    plan = StoryboardPlan(
        interval_s=2, count=30, columns=10, rows=3, tile_width=160, tile_height=90
    )
    args = build_storyboard_args(Path("/o/360p.mp4"), plan, Path("/o/storyboard.jpg"))
    assert parse(args) == {
        "bin": "ffmpeg",
        "inputs": [({"protocol_whitelist": "file"}, "/o/360p.mp4")],
        "graph": "[0:v:0]select=isnan(prev_selected_t)"
        "+gt(floor((t-start_t)/2)\\,floor((prev_selected_t-start_t)/2))[s0];"
        "[s0]scale=160:90[s1];[s1]tile=10x3[s2]",
        "maps": ["[s2]"],
        "output": {"f": "image2", "q:v": "5", "update": "1", "vframes": "1"},
        "to": "/o/storyboard.jpg",
    }
    assert build_storyboard_args(Path("/a"), plan, Path("/b"), "/opt/ffmpeg")[0] == "/opt/ffmpeg"


@pytest.mark.parametrize(
    ("source", "whitelist"),
    [("/m/master.mov", "file"), ("http://s3/m", URL), ("https://s3/m?sig=1", URL)],
)
def test_ffprobe_prints_format_and_streams_as_json(source, whitelist):
    assert ffprobe_args("/opt/ffprobe", source) == [
        "/opt/ffprobe",
        "-v", "error",
        "-hide_banner",
        "-print_format", "json",
        "-show_format",
        "-show_streams",
        "-protocol_whitelist", whitelist,
        source,
    ]  # fmt: skip
