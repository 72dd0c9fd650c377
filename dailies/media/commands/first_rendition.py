"""The first rendition: what a reviewer sees seconds after opening a link to a master that
has no preview yet. One rendition, audio muxed in, 1 s segments, written as an EVENT playlist
so it is published while ffmpeg still reads the master (from a presigned URL, never a full
local copy). Browser-ready masters are remuxed as they are; the others (ProRes, DNxHD, 10-bit,
interlaced…) get a small, fast libx264 encode. The full ladder replaces it later.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from dailies.media.commands.common import (
    PLAYLIST_NAME,
    finish_args,
    input_protocols,
    segment_prefix,
)
from dailies.media.commands.ladder import audio_stream, cpu_video_filters
from dailies.media.commands.poster import jpeg_frame
from dailies.media.commands.stream_copy import browser_friendly
from dailies.media.ladder import AUDIO_BITRATE, LadderPlan, Rung, format_rate, plan_ladder
from dailies.media.probe import MasterProbe

FIRST_RENDITION = "first"
SEGMENT_S = 1  # short first segments: the player starts after one of them
# An encode opens with a half-second segment (a keyframe forced there, then one a second): the
# player starts once half a second is encoded, and the segments after it stay 1 s long.
OPENING_SEGMENT_S = 0.5
FIRST_SHORT_SIDE = 540  # small enough to encode faster than real time on two cores
# Above this average rate a remux is no fast start: its first segment (the master's own GOP) is
# tens of MB to read, publish, fetch and decode (a 250 Mbit/s camera master's 2 s GOP: 62 MB),
# and more than a reviewer's connection can be trusted to carry. Those masters are encoded.
COPY_MAX_BPS = 25_000_000
X264_PRESET = "ultrafast"


@dataclass(frozen=True)
class FirstRenditionPlan:
    copy: bool  # remux as is (browser-ready) or encode the rung below
    rung: Rung  # what an encode is scaled to and capped like
    width: int  # the output's display size
    height: int
    frame_rate: Fraction
    gop_frames: int
    has_audio: bool
    duration_s: float
    peak_bps: int  # for the multivariant playlist's BANDWIDTH before anything is measured


def plan_first_rendition(probe: MasterProbe, master_size_bytes: int) -> FirstRenditionPlan:
    ladder = plan_ladder(probe)
    source_bps = probe.bit_rate or int(master_size_bytes * 8 / max(probe.duration_s, 0.001))
    copy = browser_friendly(probe) and source_bps <= COPY_MAX_BPS
    rung = _encode_rung(ladder)
    # A remux keeps the master's own (variable) rate; an encode is capped like its rung.
    peak = int(source_bps * 1.5) if copy else rung.maxrate + AUDIO_BITRATE
    gop = max(1, round(ladder.frame_rate * SEGMENT_S))
    return FirstRenditionPlan(
        copy=copy,
        rung=rung,
        width=probe.width if copy else rung.width,
        height=probe.height if copy else rung.height,
        frame_rate=ladder.frame_rate,
        gop_frames=gop,
        has_audio=ladder.has_audio,
        duration_s=probe.duration_s,
        peak_bps=peak,
    )


def _encode_rung(ladder: LadderPlan) -> Rung:
    """The largest rung no bigger than 540p (the ladder never upscales, so one exists)."""
    for rung in ladder.rungs:
        if min(rung.width, rung.height) <= FIRST_SHORT_SIDE:
            return rung
    return ladder.bottom


def build_first_rendition_args(
    source: str,
    out_dir: Path,
    probe: MasterProbe,
    plan: FirstRenditionPlan,
    ladder_version: str,
    ffmpeg_bin: str = "ffmpeg",
) -> list[str]:
    """argv writing {out_dir}/first/index.m3u8 (EVENT) with fMP4 segments as they complete."""
    input_opts: dict[str, Any] = {"protocol_whitelist": input_protocols(source)}
    if source.startswith(("http://", "https://")):
        input_opts.update({"reconnect": 1, "reconnect_delay_max": 10})
    src = ffmpeg.input(source, **input_opts)
    rendition = out_dir / FIRST_RENDITION
    prefix = segment_prefix(ladder_version)
    opts: dict[str, Any] = {
        "map_metadata": -1,
        "map_chapters": -1,
        "f": "hls",
        # A remux cuts at the master's own keyframes; an encode at the ones it forces and
        # sets (the muxer cuts at the first keyframe once this long has passed).
        "hls_time": SEGMENT_S if plan.copy else OPENING_SEGMENT_S,
        "hls_list_size": 0,
        "hls_playlist_type": "event",
        "hls_segment_type": "fmp4",
        "hls_fmp4_init_filename": f"{prefix}-init.mp4",
        "hls_segment_filename": str(rendition / f"{prefix}-%05d.m4s"),
        # temp_file: a segment appears under its name only once complete.
        "hls_flags": "independent_segments+temp_file",
        "max_muxing_queue_size": 4096,
    }
    if plan.copy:
        streams = [src["v:0"], *([src["a:0"]] if plan.has_audio else [])]
        opts["c"] = "copy"
    else:
        streams = [_small_video(src, probe, plan)]
        opts.update(_fast_x264_options(plan))
        if plan.has_audio:
            streams.append(audio_stream(src))
            opts.update({"c:a": "aac", "b:a": AUDIO_BITRATE, "ac": 2})
    out = ffmpeg.output(*streams, str(rendition / PLAYLIST_NAME), **opts)
    return finish_args(out, ffmpeg_bin)


def build_first_poster_args(
    source: str,
    probe: MasterProbe,
    plan: FirstRenditionPlan,
    out_file: Path,
    ffmpeg_bin: str = "ffmpeg",
) -> list[str]:
    """argv writing the first rendition's poster (its first picture, as a JPEG) from the master
    itself: the picture the first rendition will show, at its size, made before it exists (at
    promotion), so a page opened on a never-built master has a picture at once."""
    src = ffmpeg.input(source, protocol_whitelist=input_protocols(source))
    video = src["v:0"] if plan.copy else _small_video(src, probe, plan)
    return finish_args(jpeg_frame(video, out_file), ffmpeg_bin)


def _small_video(src: Any, probe: MasterProbe, plan: FirstRenditionPlan) -> Any:
    video = src["v:0"]
    if probe.hdr:  # tone-mapping wants the full frame: the ladder's chain, then scale
        for name, args, kwargs in cpu_video_filters(probe, plan.frame_rate):
            video = video.filter(name, *args, **kwargs)
        return video.filter("scale", plan.rung.width, plan.rung.height).filter("setsar", 1)
    if probe.interlaced:
        video = video.filter("bwdif", mode="send_frame", deint="interlaced")
    # Scale first, then to 8-bit 4:2:0: converting every full 1080p frame before scaling it
    # was about an eighth slower for a 10-bit ProRes master here.
    video = video.filter("scale", plan.rung.width, plan.rung.height).filter("format", "yuv420p")
    return video.filter("setsar", 1).filter("fps", fps=format_rate(plan.frame_rate))


def _fast_x264_options(plan: FirstRenditionPlan) -> dict[str, Any]:
    """Fastest preset, no lookahead or B-frames (zerolatency): the first segment leaves the
    encoder after one GOP of input, not after the lookahead fills. Capped like its rung."""
    return {
        "c:v": "libx264",
        "preset": X264_PRESET,
        "tune": "zerolatency",
        "profile:v": "high",
        "pix_fmt": "yuv420p",
        "g": plan.gop_frames,
        "keyint_min": plan.gop_frames,
        "force_key_frames": OPENING_SEGMENT_S,
        "sc_threshold": 0,
        "b:v": plan.rung.video_bitrate,
        "maxrate": plan.rung.maxrate,
        "bufsize": plan.rung.bufsize,
    }
