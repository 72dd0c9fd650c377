"""ffmpeg commands for everything besides the ladder: the early stream-copy rendition, and the
MP4, poster and storyboard made from finished renditions (already deinterlaced, tone-mapped
and rotated, so none of that is repeated)."""

from __future__ import annotations

from pathlib import Path

import ffmpeg

from dailies.media.ffmpeg_args import PLAYLIST_NAME, finish_args, segment_prefix
from dailies.media.ladder import GOP_S
from dailies.media.probe import MasterProbe
from dailies.media.storyboard import StoryboardPlan

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
    src = ffmpeg.input(source)
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


def build_mp4_args(
    video_file: Path, audio_file: Path | None, out_file: Path, ffmpeg_bin: str = "ffmpeg"
) -> list[str]:
    """preview.mp4 is a remux of one rendition (plus the audio one): no second encode.
    Inputs are renditions flattened to single fMP4 files (see playlists.rendition_files)."""
    video = ffmpeg.input(str(video_file))
    streams = [video["v:0"]]
    if audio_file is not None:
        streams.append(ffmpeg.input(str(audio_file))["a:0"])
    out = ffmpeg.output(
        *streams,
        str(out_file),
        c="copy",
        f="mp4",
        # moov first: browsers start playing before the whole file arrives.
        movflags="+faststart",
    )
    return finish_args(out, ffmpeg_bin)


def poster_time(duration_s: float) -> float:
    """A tenth of the way in (past slates and fades), never past 10 s or the last frame."""
    return round(max(0.0, min(duration_s * 0.1, 10.0, duration_s - 0.05)), 3)


def build_poster_args(
    video_file: Path, duration_s: float, out_file: Path, ffmpeg_bin: str = "ffmpeg"
) -> list[str]:
    src = ffmpeg.input(str(video_file), ss=poster_time(duration_s))
    out = ffmpeg.output(src["v:0"], str(out_file), vframes=1, update=1, **{"q:v": 3}, f="image2")
    return finish_args(out, ffmpeg_bin)


def build_storyboard_args(
    video_file: Path, plan: StoryboardPlan, out_file: Path, ffmpeg_bin: str = "ffmpeg"
) -> list[str]:
    """One sprite sheet: a thumbnail every `interval_s`, tiled in a grid."""
    video = (
        ffmpeg.input(str(video_file))["v:0"]
        .filter("fps", fps=f"1/{plan.interval_s}")
        .filter("scale", plan.tile_width, plan.tile_height)
        .filter("tile", f"{plan.columns}x{plan.rows}")
    )
    out = ffmpeg.output(video, str(out_file), vframes=1, update=1, **{"q:v": 5}, f="image2")
    return finish_args(out, ffmpeg_bin)
