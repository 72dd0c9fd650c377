"""The one ffmpeg command that makes the whole HLS ladder, built with ffmpeg-python.

One decode, one filter graph (normalise, then `split` into every rung), one process writing
every rendition through `-var_stream_map`: decoding a 4K master once instead of four times
is most of the speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from dailies.media.commands.common import (
    AUDIO_GROUP,
    AUDIO_NAME,
    PLAYLIST_NAME,
    finish_args,
    input_protocols,
    segment_prefix,
)
from dailies.media.encoders import NVENC
from dailies.media.ladder import AUDIO_BITRATE, AUDIO_SAMPLE_RATE, LadderPlan, format_rate
from dailies.media.probe import MasterProbe

# Codecs NVDEC decodes into CUDA frames; anything else decodes on the CPU.
NVDEC_CODECS = frozenset({"h264", "hevc", "vp9", "av1", "mpeg2video", "vc1", "vp8", "mpeg4"})
NVDEC_PIX_FMTS = frozenset({"yuv420p", "yuvj420p", "nv12"})


@dataclass(frozen=True)
class EncodeSettings:
    encoder: str  # libx264 or h264_nvenc
    x264_preset: str = "veryfast"
    nvenc_preset: str = "p4"
    ffmpeg_bin: str = "ffmpeg"


def full_gpu(probe: MasterProbe) -> bool:
    """Whether decode, deinterlace and scale can all stay in GPU memory.

    Tone-mapping, 10-bit to 8-bit conversion and rotation (ffmpeg's autorotate inserts CPU
    transpose filters) have no CUDA filter in stock ffmpeg: those masters use CPU filters
    and NVENC only encodes.
    """
    return (
        probe.video_codec in NVDEC_CODECS
        and probe.pix_fmt in NVDEC_PIX_FMTS
        and probe.rotation == 0
        and not probe.hdr
        and probe.bit_depth == 8
    )


def cpu_video_filters(probe: MasterProbe, frame_rate: Fraction) -> list[tuple[str, tuple, dict]]:
    """Normalising filters before the split, as (name, args, kwargs); rotation is not here
    because ffmpeg's autorotate already applies the display matrix when decoding."""
    filters: list[tuple[str, tuple, dict]] = []
    if probe.interlaced:
        # Only frames flagged interlaced; one output frame per input frame keeps the rate.
        filters.append(("bwdif", (), {"mode": "send_frame", "deint": "interlaced"}))
    if probe.hdr:
        # PQ/HLG to SDR BT.709: linearise, tone-map in float RGB, back to limited-range 709.
        filters += [
            ("zscale", (), {"t": "linear", "npl": 100}),
            ("format", ("gbrpf32le",), {}),
            ("zscale", (), {"p": "bt709"}),
            ("tonemap", (), {"tonemap": "hable", "desat": 0}),
            ("zscale", (), {"t": "bt709", "m": "bt709", "r": "tv"}),
        ]
    # Constant output rate even for VFR masters: segment and keyframe maths need it.
    filters.append(("fps", (), {"fps": format_rate(frame_rate)}))
    filters.append(("format", ("yuv420p",), {}))
    return filters


def _video_streams(source: Any, probe: MasterProbe, plan: LadderPlan, gpu: bool) -> list[Any]:
    video = source["v:0"]
    if gpu:
        if probe.interlaced:
            video = video.filter("yadif_cuda", mode="send_frame", deint="interlaced")
        video = video.filter("fps", fps=format_rate(plan.frame_rate))
    else:
        for name, args, kwargs in cpu_video_filters(probe, plan.frame_rate):
            video = video.filter(name, *args, **kwargs)
    split = video.filter_multi_output("split", len(plan.rungs))
    outputs = []
    for index, rung in enumerate(plan.rungs):
        stream = split.stream(index)
        if gpu:
            stream = stream.filter("scale_cuda", rung.width, rung.height, format="yuv420p")
        else:
            # Display size already includes SAR; square pixels on output.
            stream = stream.filter("scale", rung.width, rung.height).filter("setsar", 1)
        outputs.append(stream)
    return outputs


def audio_stream(source: Any) -> Any:
    # async=1 + first_pts=0 pads or trims audio to the video's timeline; stereo downmix
    # uses swresample's standard matrix (centre and surrounds folded in, LFE dropped).
    return (
        source["a:0"]
        .filter("aresample", AUDIO_SAMPLE_RATE, **{"async": 1, "first_pts": 0})
        .filter("aformat", channel_layouts="stereo")
    )


def video_encoder_options(
    plan: LadderPlan, settings: EncodeSettings, gpu_frames: bool
) -> dict[str, Any]:
    """Per-output-stream encoder options (`-b:v:0` ...) for every rung."""
    opts: dict[str, Any] = {"c:v": settings.encoder, "profile:v": "high"}
    opts["g"] = plan.gop_frames
    if settings.encoder == NVENC:
        opts.update(
            {
                "preset": settings.nvenc_preset,
                "tune": "hq",
                "rc": "vbr",
                # Fixed GOP: no scene-cut keyframes, every keyframe an IDR, GOP never cut
                # short, so keyframes line up across renditions.
                "no-scenecut": 1,
                "forced-idr": 1,
                "strict_gop": 1,
                "bf": 2,
                "spatial-aq": 1,
            }
        )
        if not gpu_frames:
            opts["pix_fmt"] = "yuv420p"
    else:
        opts.update(
            {
                "preset": settings.x264_preset,
                "keyint_min": plan.gop_frames,
                "sc_threshold": 0,  # no scene-cut keyframes
                "pix_fmt": "yuv420p",
            }
        )
    for index, rung in enumerate(plan.rungs):
        opts[f"b:v:{index}"] = rung.video_bitrate
        opts[f"maxrate:v:{index}"] = rung.maxrate
        opts[f"bufsize:v:{index}"] = rung.bufsize
    return opts


def var_stream_map(plan: LadderPlan) -> str:
    """Video rungs share one audio rendition: AAC is encoded once, not once per rung."""
    if not plan.has_audio:
        return " ".join(f"v:{i},name:{r.name}" for i, r in enumerate(plan.rungs))
    group = f"agroup:{AUDIO_GROUP}"
    video = [f"v:{i},{group},name:{r.name}" for i, r in enumerate(plan.rungs)]
    return " ".join([*video, f"a:0,{group},name:{AUDIO_NAME}"])


def build_ladder_args(
    source: str,
    out_dir: Path,
    probe: MasterProbe,
    plan: LadderPlan,
    settings: EncodeSettings,
    ladder_version: str,
) -> list[str]:
    """argv for the single ffmpeg process writing every rendition as fMP4 HLS under out_dir."""
    gpu = settings.encoder == NVENC and full_gpu(probe)
    input_opts: dict[str, Any] = {"protocol_whitelist": input_protocols(source)}
    if gpu:
        input_opts.update({"hwaccel": "cuda", "hwaccel_output_format": "cuda"})
    if source.startswith(("http://", "https://")):
        # A presigned URL read for an hour must survive a dropped connection.
        input_opts.update({"reconnect": 1, "reconnect_delay_max": 30})
    src = ffmpeg.input(source, **input_opts)
    streams = _video_streams(src, probe, plan, gpu)
    opts = video_encoder_options(plan, settings, gpu_frames=gpu)
    if plan.has_audio:
        streams.append(audio_stream(src))
        opts.update({"c:a": "aac", "b:a": AUDIO_BITRATE, "ac": 2})
    prefix = segment_prefix(ladder_version)
    opts.update(
        {
            "map_metadata": -1,
            "map_chapters": -1,
            "f": "hls",
            "hls_time": plan.segment_s,
            "hls_list_size": 0,
            # EVENT: ffmpeg rewrites the playlist after every segment, which we publish.
            "hls_playlist_type": "event",
            "hls_segment_type": "fmp4",
            "hls_fmp4_init_filename": f"{prefix}-init-%v.mp4",
            "hls_segment_filename": str(out_dir / "%v" / f"{prefix}-%05d.m4s"),
            # temp_file: a segment appears under its name only once complete.
            "hls_flags": "independent_segments+temp_file",
            "var_stream_map": var_stream_map(plan),
            "max_muxing_queue_size": 4096,
        }
    )
    out = ffmpeg.output(*streams, str(out_dir / "%v" / PLAYLIST_NAME), **opts)
    return finish_args(out, settings.ffmpeg_bin)
