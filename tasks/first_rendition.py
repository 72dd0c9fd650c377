"""The first rendition of a master, made by a task worker that is already running, so the
edge's 404 path never waits for a new process (issue: first frame in under two seconds).

The API submits it (dailies/previews/dispatch.py, which never imports this module) to any
`prefect task serve tasks/first_rendition.py:publish_first_rendition` process; the full ladder
still runs as the `build-preview` deployment and replaces it. The task reads the master
where it lies (a short-lived presigned URL; ffmpeg seeks with Range requests), so the first
segments are out before the last byte of a large master is read.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from prefect import get_run_logger

from dailies.clients import s3_client, session_scope
from dailies.db import masters
from dailies.errors import EncodeFailed, UnknownMaster, UnplayableMaster
from dailies.hashing import normalize_sha256
from dailies.media.commands.common import PLAYLIST_NAME
from dailies.media.commands.first_rendition import (
    FIRST_RENDITION,
    SEGMENT_S,
    build_first_rendition_args,
    plan_first_rendition,
)
from dailies.media.commands.probe import ffprobe_args
from dailies.media.ladder import LADDER_VERSION
from dailies.media.live import LivePublisher, PollingThread
from dailies.media.outputs import RenditionOutput, single_variant
from dailies.media.playlists import AAC_LC, render_multivariant
from dailies.media.probe import parse_probe
from dailies.media.runner import run_ffmpeg, run_ffprobe
from dailies.previews import dispatch, lifecycle
from dailies.previews.layout import POSTER_NAME, rendition_key
from dailies.previews.lifecycle import Stage
from dailies.scratch import make_scratch
from dailies.settings import get_settings
from dailies.storage import previews as preview_store
from tasks.preview_outputs import first_frame_s, first_poster
from tasks.preview_steps import init_codecs

# The presigned URL only has to outlive one fast pass over the master.
URL_EXPIRY_S = 3600


def first_rendition_here(sha256: str) -> dict[str, Any]:
    """Publish `{sha}/first/` and a multivariant playlist pointing at it, unless one exists."""
    started = time.monotonic()
    sha = normalize_sha256(sha256)
    settings = get_settings()
    logger = get_run_logger()
    s3 = s3_client(settings)
    if lifecycle.multivariant_published(s3, settings, sha):
        logger.info("a multivariant playlist for %s exists already; nothing to do", sha[:12])
        return {"sha256": sha, "status": "exists"}
    with session_scope(settings) as session:
        master = masters.get_master(session, sha)
        stored_probe = masters.get_probe(session, sha)
    if master is None:
        raise UnknownMaster(f"no promoted master with sha256 {sha}; promote it first")
    url = preview_store.presigned_master_url(s3, settings, master, URL_EXPIRY_S)
    # Promotion probed it already (an ffprobe process and its reads, spared here); a master
    # promoted before that, or one ffprobe could not read then, is probed now.
    probe = parse_probe(stored_probe or run_ffprobe(ffprobe_args(settings.ffprobe_bin, url)))
    probed_s = time.monotonic() - started
    plan = plan_first_rendition(probe, master.size_bytes)
    # One small PUT: the page labels frames with the master's timecode from the first frame.
    # With the master's duration: the page scales its scrub bar to the whole master from the
    # start, not to the part published so far.
    timing = {**probe.timing.as_json(), "duration_s": probe.duration_s}
    preview_store.upload_timing(s3, settings, sha, timing, final=False)
    how = "remux" if plan.copy else f"libx264 ultrafast {plan.rung.width}x{plan.rung.height}"
    logger.info(
        "first rendition of %s: %s, %.1f s (probe %s)", sha[:12], how, probe.duration_s,
        "from promotion" if stored_probe else "taken now",
    )  # fmt: skip

    scratch = make_scratch(settings.scratch_dir, "dailies-first-", sha)
    try:
        out = scratch / "hls"
        (out / FIRST_RENDITION).mkdir(parents=True)
        published: dict[str, bool] = {}
        playable_at: dict[str, float] = {}

        def publish_playlist() -> None:
            codecs = init_codecs(out / FIRST_RENDITION)
            output = RenditionOutput(
                FIRST_RENDITION, "video", codecs, plan.peak_bps, plan.peak_bps,
                plan.duration_s, 0, plan.width, plan.height,
            )  # fmt: skip
            text = render_multivariant(single_variant(output, AAC_LC if plan.has_audio else None))
            published["multivariant"] = lifecycle.publish_multivariant(
                s3, settings, sha, text, Stage.FIRST_RENDITION
            )
            playable_at["s"] = time.monotonic() - started
            publish_first_picture_time()
            publish_poster()

        def publish_first_picture_time() -> None:
            """After the playlist (an ffprobe here costs ~0.15 s, which the first frame does
            not wait for): where the rendition's first picture sits (a remux of a B-frame
            master starts 2 frames late), which the page reads again while it plays the fast
            rendition, so its labels match the picture as with the ladder's timing."""
            try:
                start_s = first_frame_s(scratch, FIRST_RENDITION, settings.ffprobe_bin)
            except (UnplayableMaster, OSError) as exc:  # labels may be off a frame; it plays
                logger.warning("first picture time of %s not measured: %s", sha[:12], exc)
                return
            measured = {**timing, "video_start_s": {FIRST_RENDITION: start_s}}
            preview_store.upload_timing(s3, settings, sha, measured, final=False)

        def publish_poster() -> None:
            """After the playlist (the first frame does not wait for it): a poster for a
            master opened while it builds. Under first/, not poster.jpg: the edge keeps that
            for good, and the ladder's is taken a tenth of the way in. Promotion made it for
            most masters already (tasks/promotion.py), and the edge keeps what it served."""
            key = rendition_key(sha, FIRST_RENDITION, POSTER_NAME)
            if preview_store.preview_exists(s3, settings, key):
                return
            try:
                poster = first_poster(
                    scratch, FIRST_RENDITION, scratch / "first-poster.jpg", settings.ffmpeg_bin
                )
            except (UnplayableMaster, EncodeFailed) as exc:  # the ladder's poster will come
                logger.warning("no first-rendition poster for %s: %s", sha[:12], exc)
                return
            preview_store.upload_preview_bytes_if_absent(
                s3, settings, key, poster.read_bytes(), final=True
            )

        publisher = LivePublisher(
            out,
            [FIRST_RENDITION],
            sha,
            SEGMENT_S,
            lambda path, k, final: preview_store.upload_preview_file(s3, settings, path, k, final),
            lambda k, text, final: preview_store.upload_preview_text(s3, settings, k, text, final),
            publish_playlist,
        )
        args = build_first_rendition_args(
            url, out, probe, plan, LADDER_VERSION, settings.ffmpeg_bin
        )
        with PollingThread(publisher, settings.first_rendition_publish_interval_s) as poller:
            run_ffmpeg(args, "ffmpeg (first rendition)", plan.duration_s)
        if poller.error is not None:
            raise poller.error
        publisher.poll(final=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    state = publisher.renditions[FIRST_RENDITION]
    # The stages a reviewer waits on, for ops comparing hosts (the bench reads them too).
    logger.info(
        "first rendition of %s: %d segments, %.1f MB published; multivariant playlist %s; "
        "probed after %.2f s, playable after %.2f s, done after %.2f s",
        sha[:12],
        state.segments_uploaded,
        sum(state.uploaded.values()) / 1e6,
        "written" if published.get("multivariant") else "already there (the ladder's)",
        probed_s,
        playable_at.get("s", float("nan")),
        time.monotonic() - started,
    )
    return {
        "sha256": sha,
        "status": "published",
        "copy": plan.copy,
        "segments": state.segments_uploaded,
        "playlist_key": f"{sha}/{FIRST_RENDITION}/{PLAYLIST_NAME}",
        "manifest_written": bool(published.get("multivariant")),
    }


def warm_up() -> None:
    """Pay now what a task worker's first run would pay in front of a reviewer: loading and
    reading the task-scheduling storage block (prefect-aws, boto3: where the API put the run's
    parameters), this process's S3 client and its first catalog connection. Measured in
    tests/fleet: 3 to 11 s of the first play that each fresh task worker served."""
    import contextlib
    import uuid

    from prefect.results import get_or_create_default_task_scheduling_storage
    from prefect.utilities.asyncutils import run_coro_as_sync
    from sqlalchemy import text

    async def touch_storage() -> None:
        storage = await get_or_create_default_task_scheduling_storage()
        read = getattr(storage, "aread_path", None)  # a block (S3Bucket); not a local path
        if read is not None:
            with contextlib.suppress(Exception):  # a missing key: the read path is what warms
                await read(f"dailies-warm-up-{uuid.uuid4().hex}")

    run_coro_as_sync(touch_storage())
    settings = get_settings()
    s3_client(settings)
    with session_scope(settings) as session:
        session.execute(text("SELECT 1"))


# What `dailies task-worker` (Prefect's task worker, warmed up) and `prefect task serve
# tasks/first_rendition.py:publish_first_rendition` serve: the task the API submits
# (dailies/previews/dispatch.py), running the work above in this process.
dispatch.implement_first_rendition(first_rendition_here)
publish_first_rendition = dispatch.FIRST_RENDITION
