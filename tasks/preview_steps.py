"""The steps of a preview build, one I/O step each. They run inside the cached build task
(tasks/preview.py), so they never cache on their own."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from prefect import task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from dailies.clients import s3_client, session_scope
from dailies.errors import EncodeFailed, EncodeTimedOut
from dailies.handoffs import MasterRecord
from dailies.media.commands.common import AUDIO_NAME, PLAYLIST_NAME
from dailies.media.commands.ladder import EncodeSettings, build_ladder_args
from dailies.media.commands.probe import ffprobe_args
from dailies.media.commands.stream_copy import SOURCE_RENDITION, build_stream_copy_args
from dailies.media.encoders import nvenc_works, resolve_encoder
from dailies.media.ladder import LADDER_VERSION, LadderPlan
from dailies.media.live import LivePublisher, PollingThread
from dailies.media.outputs import (
    RenditionOutput,
    build_multivariant,
    count_renditions,
    estimated_outputs,
    measure_rendition,
    single_variant,
)
from dailies.media.playlists import (
    AAC_LC,
    FALLBACK_AVC,
    Multivariant,
    avc_codec_string,
    parse_media_playlist,
    render_multivariant,
)
from dailies.media.probe import MasterProbe, parse_probe
from dailies.media.progress import ProgressUpdate, Throttle
from dailies.media.runner import ffmpeg_timeout_s, run_ffmpeg, run_ffprobe
from dailies.previews import lifecycle
from dailies.previews.layout import multivariant_key
from dailies.previews.lifecycle import Stage
from dailies.settings import MiB, get_settings
from dailies.storage import previews as preview_store
from tasks.retry import transient_retries
from tasks.run_context import run_logger


@task(cache_policy=NO_CACHE, persist_result=False)
def choose_encoder(requested: str) -> str:
    """auto/nvenc/cpu to h264_nvenc or libx264 (NVENC probed once per process)."""
    settings = get_settings()
    chosen = resolve_encoder(requested, lambda: nvenc_works(settings.ffmpeg_bin))
    run_logger("dailies.preview").info("encoder: %s asked, %s runs", requested, chosen)
    return chosen


@task(
    cache_policy=NO_CACHE,
    persist_result=False,
    **transient_retries(3),
)
def fetch_master(master: MasterRecord, scratch: Path) -> str:
    """A local copy in scratch (robust for long encodes) or a presigned URL (no copy)."""
    settings = get_settings()
    s3 = s3_client(settings)
    logger = run_logger("dailies.preview")
    if settings.preview_master_via == "url":
        logger.info("reading the master from a presigned URL (no local copy)")
        return preview_store.presigned_master_url(s3, settings, master)
    dest = scratch / "master"
    started = time.monotonic()
    path = preview_store.download_master(s3, settings, master, dest)
    seconds = max(time.monotonic() - started, 1e-6)
    logger.info("downloaded s3://%s/%s (version %s): %.1f MiB in %.1f s, %.0f MiB/s",
                settings.masters_bucket, master.masters_key, master.version_id,
                master.size_bytes / MiB, seconds, master.size_bytes / MiB / seconds)  # fmt: skip
    return str(path)


@task(cache_policy=NO_CACHE, persist_result=False)
def multivariant_published(sha256: str) -> bool:
    """Whether a multivariant playlist (the first rendition's, or an earlier build's) is
    in the bucket."""
    settings = get_settings()
    return lifecycle.multivariant_published(s3_client(settings), settings, sha256)


@task(cache_policy=NO_CACHE, persist_result=False)
def probe_master(source: str) -> MasterProbe:
    """ffprobe, then the pure parse; a file that is not a video fails here, fast."""
    settings = get_settings()
    probe = parse_probe(run_ffprobe(ffprobe_args(settings.ffprobe_bin, source)))
    audio = f"{probe.audio.codec} {probe.audio.channels} ch" if probe.audio else "no audio"
    run_logger("dailies.preview").info(
        "master: %s %s %dx%d %s fps, %.2f s, %s%s%s", probe.container, probe.video_codec,
        probe.width, probe.height, f"{float(probe.frame_rate):.3f}", probe.duration_s, audio,
        ", interlaced" if probe.interlaced else "", ", HDR" if probe.hdr else "",
    )  # fmt: skip
    return probe


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_stream_copy(source: str, probe: MasterProbe, sha256: str, scratch: Path) -> bool:
    """Remux a browser-friendly master and point the multivariant playlist at it: playable in
    seconds. False when the remux fails: it is a head start, and the ladder still decodes the
    master."""
    settings = get_settings()
    out = scratch / "copy"
    (out / SOURCE_RENDITION).mkdir(parents=True)
    try:
        run_ffmpeg(
            build_stream_copy_args(
                source, out, probe.audio is not None, LADDER_VERSION, settings.ffmpeg_bin
            ),
            what="stream copy",
            timeout_s=time_limit(probe.duration_s),
        )
    except EncodeTimedOut:
        raise  # a remux this slow means the encode would hang too
    except EncodeFailed as exc:  # e.g. ADTS audio in MPEG-TS, which fMP4 cannot take as is
        run_logger("dailies.preview").warning("no stream copy, encoding the ladder only: %s", exc)
        return False
    folder = out / SOURCE_RENDITION
    playlist = parse_media_playlist((folder / PLAYLIST_NAME).read_text())
    publisher = _publisher(folder.parent, [folder.name], sha256, playlist.target_duration)
    publisher.poll(final=True)
    state = publisher.renditions[folder.name]
    output = measure_rendition(
        folder.name,
        "video",
        playlist,
        list(state.uploaded.values()),
        init_codecs(folder),
        (probe.width, probe.height),
    )
    multivariant = single_variant(output, AAC_LC if probe.audio else None)
    _publish(sha256, multivariant, Stage.STREAM_COPY)
    return True


@task(cache_policy=NO_CACHE, persist_result=False)
def encode_ladder(
    source: str,
    probe: MasterProbe,
    plan: LadderPlan,
    encoder: str,
    sha256: str,
    scratch: Path,
    early_multivariant: bool,
) -> list[RenditionOutput]:
    """The one ffmpeg process for every rendition, published segment by segment."""
    settings = get_settings()
    out = scratch / "hls"
    names = [r.name for r in plan.rungs] + ([AUDIO_NAME] if plan.has_audio else [])
    for name in names:
        (out / name).mkdir(parents=True, exist_ok=True)
    encode = EncodeSettings(
        encoder, settings.x264_preset, settings.nvenc_preset, settings.ffmpeg_bin
    )
    args = build_ladder_args(source, out, probe, plan, encode, LADDER_VERSION)

    def publish_early_multivariant() -> None:
        codecs = {r.name: init_codecs(out / r.name) for r in plan.rungs}
        multivariant = build_multivariant(estimated_outputs(plan, codecs), plan.frame_rate)
        _publish(sha256, multivariant, Stage.LADDER_STARTED)

    publisher = _publisher(
        out,
        names,
        sha256,
        plan.segment_s,
        publish_early_multivariant if early_multivariant else None,
    )
    report = _progress_reporter(sha256)
    logger = run_logger("dailies.preview")
    rungs = ", ".join(
        f"{r.name} {r.width}x{r.height} {r.video_bitrate // 1000}k" for r in plan.rungs
    )
    logger.info("ladder with %s: %s; %s s segments", encoder, rungs, plan.segment_s)
    started = time.monotonic()
    with PollingThread(publisher, settings.preview_publish_interval_s) as poller:

        def report_or_stop(update: ProgressUpdate) -> None:
            # A segment that could not be published (S3 out of reach) ends the encode now:
            # the rest would be thrown away, and the retry (or the hand-back, for a host cut
            # from S3) starts afresh. Raising here kills ffmpeg (run_ffmpeg).
            if poller.error is not None:
                raise poller.error
            report(update)

        run_ffmpeg(
            args, "ffmpeg (HLS ladder)", plan.duration_s, report_or_stop,
            time_limit(plan.duration_s),
        )  # fmt: skip
    seconds = max(time.monotonic() - started, 1e-6)
    logger.info("ffmpeg encoded %.1f s of media in %.1f s (%.2fx real time)",
                plan.duration_s, seconds, plan.duration_s / seconds)  # fmt: skip
    if poller.error is not None:
        raise poller.error
    publisher.poll(final=True)
    report(ProgressUpdate(plan.duration_s, 1.0, None, True))
    sizes = {r.name: (r.width, r.height) for r in plan.rungs}
    outputs = []
    for name, state in publisher.renditions.items():
        assert state.playlist is not None  # final poll read every playlist
        kind = "audio" if name == AUDIO_NAME else "video"
        codecs = AAC_LC if kind == "audio" else init_codecs(out / name)
        outputs.append(
            measure_rendition(
                name, kind, state.playlist, list(state.uploaded.values()), codecs, sizes.get(name)
            )
        )
    return outputs


@task(cache_policy=NO_CACHE, persist_result=False)
def publish_final_multivariant(
    sha256: str, outputs: list[RenditionOutput], plan: LadderPlan
) -> str:
    """The final multivariant playlist, with measured BANDWIDTH: last, so a player that
    finds it finds every rendition complete."""
    key = _publish(sha256, build_multivariant(outputs, plan.frame_rate), Stage.LADDER)
    published = sum(o.segments for o in outputs)
    run_logger("dailies.preview").info(
        "published s3://%s/%s: %s, %d segments",
        get_settings().previews_bucket, key, count_renditions([o.kind for o in outputs]),
        published,
    )  # fmt: skip
    return key


def time_limit(duration_s: float) -> float:
    settings = get_settings()
    return ffmpeg_timeout_s(
        duration_s,
        settings.preview_ffmpeg_timeout_floor_s,
        settings.preview_ffmpeg_timeout_per_media_s,
    )


def _publish(sha256: str, multivariant: Multivariant, stage: Stage) -> str:
    settings = get_settings()
    text = render_multivariant(multivariant)
    lifecycle.publish_multivariant(s3_client(settings), settings, sha256, text, stage)
    return multivariant_key(sha256)


def _publisher(
    root: Path, names: list[str], sha256: str, segment_s: float, on_all_started: Any = None
) -> LivePublisher:
    settings = get_settings()
    s3 = s3_client(settings)
    return LivePublisher(
        root,
        names,
        sha256,
        segment_s,
        lambda path, key, final: preview_store.upload_preview_file(s3, settings, path, key, final),
        lambda key, text, final: preview_store.upload_preview_text(s3, settings, key, text, final),
        on_all_started,
    )


def init_codecs(folder: Path) -> str:
    """RFC 6381 CODECS of the H.264 rendition whose files are in `folder`, from its init
    segment (the first rendition's too, tasks/first_rendition.py)."""
    found = sorted(folder.glob("*init*.mp4"))
    try:
        return (avc_codec_string(found[0].read_bytes()) if found else None) or FALLBACK_AVC
    except OSError:
        return FALLBACK_AVC


def _progress_reporter(sha256: str) -> Any:
    """Throttled: the previews row (what the API shows) and a Prefect progress artifact."""
    settings = get_settings()
    throttle = Throttle(settings.preview_progress_interval_s)
    # Called from a sync task, so Prefect's sync-or-async helper returns the id itself.
    artifact_id: UUID = create_progress_artifact(  # type: ignore[assignment]
        0.0, key=f"preview-progress-{sha256[:16]}", description=f"HLS ladder for {sha256}"
    )

    def report(update: ProgressUpdate) -> None:
        if not throttle.ready(final=update.done):
            return
        try:
            with session_scope(settings) as session:
                lifecycle.report_progress(session, sha256, update.fraction)
        except sqlalchemy.exc.OperationalError as exc:
            # A dropped connection costs one progress tick, not the encode: raising here
            # would kill ffmpeg and rebuild the whole ladder on the task's retry.
            run_logger("dailies.preview").warning("progress not recorded: %s", exc)
            return
        update_progress_artifact(artifact_id, round(update.fraction * 100, 1))

    return report
