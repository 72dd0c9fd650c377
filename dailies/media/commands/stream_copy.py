"""The early stream-copy rendition: a browser-ready master remuxed into HLS as it is, published
before any encode finishes."""

from __future__ import annotations

from pathlib import Path

import ffmpeg

from dailies.media.commands.common import (
    PLAYLIST_NAME,
    finish_args,
    input_protocols,
    segment_prefix,
)
from dailies.media.ladder import GOP_S
from dailies.media.probe import MasterProbe

SOURCE_RENDITION = "source"
BROWSER_VIDEO_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})


def browser_friendly(probe: MasterProbe) -> bool:
    """Masters a browser plays as they are (H.264 4:2:0 8-bit ≤1080p, AAC or silent):
    remuxing them takes seconds, so they are published before any encode finishes."""
    return (
        probe.video_codec == "h264"
        and probe.pix_fmt in BROWSER_VIDEO_PIX_FMTS
        and min(probe.width, probe.height) <= 1080
        and max(probe.width, probe.height) <= 1920
        and probe.rotation == 0
        and not probe.interlaced
        and (probe.audio is None or probe.audio.codec == "aac")
    )


def build_stream_copy_args(
    source: str, out_dir: Path, has_audio: bool, ladder_version: str, ffmpeg_bin: str = "ffmpeg"
) -> list[str]:
    """Remux the master into one fMP4 HLS rendition, no re-encoding: cut at its own keyframes."""
    src = ffmpeg.input(source, protocol_whitelist=input_protocols(source))
    streams = [src["v:0"], *([src["a:0"]] if has_audio else [])]
    prefix = segment_prefix(ladder_version)
    rendition = out_dir / SOURCE_RENDITION
    out = ffmpeg.output(
        *streams,
        str(rendition / PLAYLIST_NAME),
        c="copy",
        map_metadata=-1,
        f="hls",
        hls_time=GOP_S * 2,
        hls_list_size=0,
        hls_playlist_type="vod",
        hls_segment_type="fmp4",
        hls_fmp4_init_filename=f"{prefix}-init.mp4",
        hls_segment_filename=str(rendition / f"{prefix}-%05d.m4s"),
        hls_flags="independent_segments",
    )
    return finish_args(out, ffmpeg_bin)
