"""What a finished ladder is turned into besides HLS: preview.mp4, the poster and the
storyboard, each one ffmpeg job over a flattened rendition, uploaded to the previews bucket."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from dailies.clients import s3_client
from dailies.media.commands.common import AUDIO_NAME, PLAYLIST_NAME
from dailies.media.commands.mp4 import build_mp4_args
from dailies.media.commands.poster import build_poster_args
from dailies.media.commands.probe import first_frame_args
from dailies.media.commands.storyboard import build_storyboard_args
from dailies.media.ladder import LADDER_VERSION, LadderPlan
from dailies.media.outputs import RenditionOutput
from dailies.media.playlists import parse_media_playlist, rendition_files
from dailies.media.probe import MasterProbe, first_frame_time
from dailies.media.runner import run_ffmpeg, run_ffprobe
from dailies.media.storyboard import has_cues, plan_storyboard, render_storyboard_vtt
from dailies.previews.layout import MP4_NAME, POSTER_NAME, STORYBOARD_VTT, storyboard_sprite_name
from dailies.settings import get_settings
from dailies.storage import previews as preview_store
from tasks.preview_steps import time_limit


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_timing(
    probe: MasterProbe, sha256: str, scratch: Path, outputs: list[RenditionOutput]
) -> tuple[dict[str, Any], str]:
    """timing.json: the master's start timecode and frame rate, and where each rendition's
    first picture sits on the preview's clock, so the page names the frame on screen."""
    settings = get_settings()
    starts = {}
    for output in outputs:
        if output.kind == "video":
            starts[output.name] = first_frame_s(scratch, output.name, settings.ffprobe_bin)
    timing = {**probe.timing.as_json(), "duration_s": probe.duration_s, "video_start_s": starts}
    return timing, preview_store.upload_timing(s3_client(settings), settings, sha256, timing)


def rendition_head(scratch: Path, name: str, head: Path) -> Path:
    """A rendition's init + first segment as one small MP4 (`head`): enough for its first
    picture, whatever the rest of the rendition still is."""
    folder = scratch / "hls" / name
    files = rendition_files(parse_media_playlist((folder / PLAYLIST_NAME).read_text()))[:2]
    head.write_bytes(b"".join((folder / f).read_bytes() for f in files))
    return head


def first_frame_s(scratch: Path, name: str, ffprobe_bin: str) -> float:
    """The first video frame's time in a rendition (init + first segment only)."""
    head = rendition_head(scratch, name, scratch / f"first-frame-{name}.mp4")
    try:
        return first_frame_time(run_ffprobe(first_frame_args(ffprobe_bin, str(head)))) or 0.0
    finally:
        head.unlink(missing_ok=True)


def first_poster(scratch: Path, name: str, out_file: Path, ffmpeg_bin: str) -> Path:
    """A poster from a rendition's first picture (its init + first segment only)."""
    head = rendition_head(scratch, name, scratch / f"poster-head-{name}.mp4")
    try:
        run_ffmpeg(build_poster_args(head, 0.0, out_file, ffmpeg_bin), "poster", timeout_s=60)
    finally:
        head.unlink(missing_ok=True)
    return out_file


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_mp4(plan: LadderPlan, sha256: str, scratch: Path) -> str:
    settings = get_settings()
    out_file = scratch / MP4_NAME
    audio = flat_rendition(scratch, AUDIO_NAME) if plan.has_audio else None
    video = flat_rendition(scratch, plan.mp4_rung().name)
    run_ffmpeg(
        build_mp4_args(video, audio, out_file, settings.ffmpeg_bin),
        "mp4",
        timeout_s=time_limit(plan.duration_s),
    )
    key = f"{sha256}/{MP4_NAME}"
    preview_store.upload_preview_file(s3_client(settings), settings, out_file, key, True)
    return key


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_poster(plan: LadderPlan, sha256: str, scratch: Path) -> str:
    settings = get_settings()
    out_file = scratch / POSTER_NAME
    video = flat_rendition(scratch, plan.top.name)
    run_ffmpeg(
        build_poster_args(video, plan.duration_s, out_file, settings.ffmpeg_bin),
        "poster",
        timeout_s=time_limit(plan.duration_s),
    )
    key = f"{sha256}/{POSTER_NAME}"
    preview_store.upload_preview_file(s3_client(settings), settings, out_file, key, True)
    return key


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_storyboard(plan: LadderPlan, sha256: str, scratch: Path) -> str | None:
    """Sprite sheet from the smallest rendition (cheapest to decode) plus its WebVTT; None
    (no storyboard: the player treats it as optional) when there is nothing to tile."""
    settings = get_settings()
    s3 = s3_client(settings)
    board = plan_storyboard(plan.duration_s, plan.bottom.width, plan.bottom.height)
    vtt = render_storyboard_vtt(board, plan.duration_s, storyboard_sprite_name(LADDER_VERSION))
    if not has_cues(vtt):
        return None
    sprite = scratch / storyboard_sprite_name(LADDER_VERSION)
    video = flat_rendition(scratch, plan.bottom.name)
    run_ffmpeg(
        build_storyboard_args(video, board, sprite, settings.ffmpeg_bin),
        "storyboard",
        timeout_s=time_limit(plan.duration_s),
    )
    if not sprite.exists():  # ffmpeg exits 0 when no frame reached the tile filter
        return None
    preview_store.upload_preview_file(s3, settings, sprite, f"{sha256}/{sprite.name}", True)
    vtt_key = f"{sha256}/{STORYBOARD_VTT}"
    preview_store.upload_preview_text(s3, settings, vtt_key, vtt, True)
    return vtt_key


def flat_rendition(scratch: Path, name: str) -> Path:
    """A finished rendition as one fMP4 file (init + segments), made once per build."""
    flat = scratch / "flat" / f"{name}.mp4"
    if not flat.exists():
        folder = scratch / "hls" / name
        playlist = parse_media_playlist((folder / PLAYLIST_NAME).read_text())
        flat.parent.mkdir(exist_ok=True)
        partial = flat.with_suffix(".partial")
        with partial.open("wb") as out:
            for name_ in rendition_files(playlist):
                with (folder / name_).open("rb") as part:
                    shutil.copyfileobj(part, out, 8 * 1024 * 1024)
        partial.rename(flat)
    return flat
