"""The preview build as one cached unit, and the previews-row bookkeeping around it."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact
from prefect.cache_policies import NO_CACHE, CachePolicy

from dailies.caching import content_cache_policy
from dailies.clients import s3_client, s3_probe_client, session_scope
from dailies.db import masters, previews
from dailies.errors import UnknownMaster
from dailies.handoffs import BuiltPreview, MasterRecord, SourceTraits
from dailies.hashing import is_sha256
from dailies.media.commands.common import PLAYLIST_NAME
from dailies.media.commands.stream_copy import browser_friendly
from dailies.media.ladder import LADDER_VERSION, plan_ladder
from dailies.media.outputs import count_renditions, measured_duration_s
from dailies.media.playlists import parse_media_playlist
from dailies.preview_rules import public_reason
from dailies.previews import lifecycle
from dailies.previews.layout import rendition_key
from dailies.previews.request import PreviewRequest
from dailies.scratch import make_scratch
from dailies.settings import Settings, get_settings
from dailies.storage import previews as preview_store
from tasks.handback import failed_for_its_host, hand_back
from tasks.preview_outputs import (
    publish_mp4,
    publish_poster,
    publish_storyboard,
    publish_timing,
)
from tasks.preview_steps import (
    choose_encoder,
    encode_ladder,
    fetch_master,
    multivariant_published,
    probe_master,
    publish_final_multivariant,
    publish_stream_copy,
)
from tasks.retry import transient_retries
from tasks.run_context import current_flow_run_id, run_logger

# Bumped when the cached result's shape changes (3: BuiltPreview records, not dicts;
# 4: with the master's timing and timing.json).
RESULT_VERSION = "4"


def preview_cache_policy() -> CachePolicy:
    """Keyed on the master's sha256 and the ladder version (and the bucket), so the encoder
    asked for and code edits do not split the cache; bumping LADDER_VERSION rebuilds all.
    Concurrent builds of one sha wait for the first and read its result."""
    bucket = get_settings().previews_bucket
    return content_cache_policy(f"dailies-preview-l{LADDER_VERSION}r{RESULT_VERSION}-{bucket}")


@task(cache_policy=NO_CACHE)
def reach_previews_store() -> None:
    """One quick request to the previews bucket, no retries: a worker host that cannot reach
    S3 fails here in seconds and hands the build back (tasks/handback.py) instead of spending
    the steps' retries first, which took 5-6 min a time when Prefect gave a relaunch to the
    host cut from S3 again (tests/fleet)."""
    settings = get_settings()
    s3_probe_client(settings).head_bucket(Bucket=settings.previews_bucket)


@task(cache_policy=NO_CACHE)
def require_master(sha256: str) -> MasterRecord:
    with session_scope() as session:
        master = masters.get_master(session, sha256)
    if master is None:
        raise UnknownMaster(f"no promoted master with sha256 {sha256}; promote it first")
    return master


@task(cache_policy=NO_CACHE)
def find_current_preview(sha256: str) -> dict[str, Any] | None:
    """A ready preview of the current ladder version, as the flow returns it, or None."""
    with session_scope() as session:
        row = previews.get_preview(session, sha256)
        if not previews.is_current(row, LADDER_VERSION):
            return None
        assert row is not None
        current = {**previews.preview_as_dict(row), "cache_hit": True}
    settings = get_settings()
    # The row outlives the bucket's contents (a new store, lifecycle expiry, a delete).
    key = row.manifest_key
    if key is None or not preview_store.preview_exists(s3_client(settings), settings, key):
        return None
    return current


@task(cache_policy=NO_CACHE, **transient_retries(2))  # fmt: skip
def missing_preview_objects(built: BuiltPreview) -> list[str]:
    """What a (cached) build result names that the bucket lacks: its files, each rendition's
    playlist and the init segment that playlist maps. Empty when the result is still true."""
    settings = get_settings()
    s3 = s3_client(settings)
    missing = [
        key for key in built.object_keys() if not preview_store.preview_exists(s3, settings, key)
    ]
    for rendition in built.renditions:
        key = rendition_key(built.sha256, rendition["name"], PLAYLIST_NAME)
        text = preview_store.read_preview_text(s3, settings, key)
        init = parse_media_playlist(text).map_uri if text is not None else None
        if text is None:
            missing.append(key)
        elif init:
            init_key = rendition_key(built.sha256, rendition["name"], init)
            if not preview_store.preview_exists(s3, settings, init_key):
                missing.append(init_key)
    return missing


# The row writes are idempotent: a dropped database connection is retried, not a failed build.
@task(cache_policy=NO_CACHE, **transient_retries(3))  # fmt: skip
def queue_preview(request: PreviewRequest) -> str:
    with session_scope() as session:
        queued = lifecycle.queue(session, request.sha256, current_flow_run_id(), LADDER_VERSION)
        return queued.status


@task(cache_policy=NO_CACHE)
def start_building(sha256: str, encoder: str) -> None:
    with session_scope() as session:
        lifecycle.start_building(
            session, sha256, LADDER_VERSION, encoder, current_flow_run_id(),
            stall_s=get_settings().preview_stall_s,
        )  # fmt: skip


@task(persist_result=True, task_run_name="build-{request.sha256:.12}-{request.encoder}",
      **transient_retries(2))  # fmt: skip
def build_preview_files(request: PreviewRequest, master: MasterRecord) -> BuiltPreview:
    """Everything that ends up in the previews bucket, as one cacheable, locked unit.

    Steps are tasks of their own (visible in the UI); scratch space goes on success and
    failure alike. Run with `.with_options(cache_policy=preview_cache_policy())`.
    """
    settings = get_settings()
    encoder = choose_encoder(request.encoder)
    start_building(request.sha256, encoder)
    with scratch_directory(settings, request.sha256) as scratch:
        source = fetch_master(master, scratch)
        probe = probe_master(source)
        plan = plan_ladder(probe)
        # A multivariant playlist already there is the first rendition's (tasks/first_rendition.py):
        # playable, so neither the stream copy nor the ladder's estimate is needed.
        playable = multivariant_published(request.sha256)
        copied = not playable and settings.preview_stream_copy and browser_friendly(probe)
        if copied:
            copied = publish_stream_copy(source, probe, request.sha256, scratch)
        early = not (copied or playable)
        outputs = encode_ladder(
            source, probe, plan, encoder, request.sha256, scratch, early_multivariant=early
        )
        plan = dataclasses.replace(plan, duration_s=measured_duration_s(outputs, plan.duration_s))
        timing, timing_key = publish_timing(probe, request.sha256, scratch, outputs)
        mp4_key = publish_mp4(plan, request.sha256, scratch)
        poster_key = publish_poster(plan, request.sha256, scratch)
        storyboard_key = publish_storyboard(plan, request.sha256, scratch)
        manifest_key = publish_final_multivariant(request.sha256, outputs, plan)
    return BuiltPreview(
        sha256=request.sha256,
        manifest_key=manifest_key,
        renditions=tuple(o.as_dict() for o in outputs),
        duration_s=round(plan.duration_s, 3),
        encoder=encoder,
        ladder_version=LADDER_VERSION,
        mp4_key=mp4_key,
        poster_key=poster_key,
        storyboard_key=storyboard_key,
        source=SourceTraits(
            width=probe.width,
            height=probe.height,
            rotation=probe.rotation,
            hdr=probe.hdr,
            interlaced=probe.interlaced,
            audio_channels=probe.audio.channels if probe.audio else 0,
        ),
        timing=timing,
        timing_key=timing_key,
    )


@task(cache_policy=NO_CACHE, **transient_retries(3))  # fmt: skip
def record_ready(built: BuiltPreview, cache_hit: bool) -> dict[str, Any]:
    with session_scope() as session:
        row = lifecycle.mark_ready(session, built)
        result = {**built.as_dict(), **previews.preview_as_dict(row), "cache_hit": cache_hit}
    edge = get_settings().edge_url.rstrip("/")
    # Links on the run's page: ops open what the reviewer sees (a reviewer token goes in
    # the fragment, #token=…, which the link cannot carry).
    create_link_artifact(
        key=f"preview-player-{built.sha256[:16]}",
        link=f"{edge}/watch/{built.sha256}",
        link_text=f"player for {built.sha256[:12]} (add #token=<reviewer token>)",
        description=f"manifest: {edge}/previews/{built.manifest_key}; encoder {built.encoder}",
    )
    run_logger("dailies.preview").info(
        "ready%s: %s/previews/%s, %s, %.1f s, %s", " (cached)" if cache_hit else "",
        edge, built.manifest_key, count_renditions([r["kind"] for r in built.renditions]),
        built.duration_s, built.encoder,
    )  # fmt: skip
    return result


@contextmanager
def scratch_directory(settings: Settings, sha256: str) -> Iterator[Path]:
    path = make_scratch(settings.scratch_dir, "dailies-preview-", sha256)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def record_preview_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow on_failure/on_crashed hook: the row says why, in words a person can act on.
    Parameter names matter: a worker's runner calls crash hooks with keyword arguments.

    A crash (the run's process died: killed, out of memory, its worker restarted) is not
    the build's failure: the row stays active, and the liveness sweep relaunches the run
    once the row has been quiet for preview_recheck_after_s, with nobody asking. Nor is a
    failure for its host's reasons (S3 unreachable from it): that run is handed back to the
    pool at once (tasks/handback.py)."""
    run = flow_run
    sha = str((run.parameters or {}).get("sha256", "")).strip().lower()
    if not is_sha256(sha):
        return  # a malformed request never had a row
    reason = failure_reason(state)
    if is_crash(state):
        run_logger("dailies.preview").warning("%s; the liveness sweep relaunches it", reason)
        return
    if failed_for_its_host(state) and hand_back(run.id, sha, reason):
        return
    with session_scope() as session:
        if masters.get_master(session, sha) is None:
            return  # unknown master: nothing to attach a row to
        lifecycle.fail(session, sha, reason, str(run.id), LADDER_VERSION)


def failure_reason(state: Any) -> str:
    message = public_reason(str(getattr(state, "message", "") or ""))
    for prefix in ("Flow run encountered an exception: ", "Task run encountered an exception: "):
        message = message.removeprefix(prefix)
    if is_crash(state):
        return f"the preview worker stopped before finishing ({message or 'crashed'})"
    return message or "preview build failed"


def is_crash(state: Any) -> bool:
    return getattr(state, "name", "") == "Crashed" or getattr(state, "type", None) == "CRASHED"
