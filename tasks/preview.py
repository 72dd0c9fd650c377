"""The preview build as one cached unit, and the previews-row bookkeeping around it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE, CachePolicy

from dailies.caching import content_cache_policy
from dailies.clients import session_scope
from dailies.db import masters, previews
from dailies.errors import UnknownMaster
from dailies.handoffs import BuiltPreview, MasterRecord, SourceTraits
from dailies.hashing import is_sha256
from dailies.media.commands.stream_copy import browser_friendly
from dailies.media.ladder import LADDER_VERSION, plan_ladder
from dailies.preview_rules import PreviewRequest
from dailies.settings import Settings, get_settings
from tasks.preview_steps import (
    choose_encoder,
    encode_ladder,
    fetch_master,
    manifest_published,
    probe_master,
    publish_manifest,
    publish_mp4,
    publish_poster,
    publish_storyboard,
    publish_stream_copy,
)
from tasks.retry import RETRY_DELAYS, retry_transient
from tasks.run_context import current_flow_run_id

# Bumped when the cached result's shape changes (3: BuiltPreview records, not dicts).
RESULT_VERSION = "3"


def preview_cache_policy() -> CachePolicy:
    """Keyed on the master's sha256 and the ladder version (and the bucket), so the encoder
    asked for and code edits do not split the cache; bumping LADDER_VERSION rebuilds all.
    Concurrent builds of one sha wait for the first and read its result."""
    bucket = get_settings().previews_bucket
    return content_cache_policy(f"dailies-preview-l{LADDER_VERSION}r{RESULT_VERSION}-{bucket}")


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
        return {**previews.preview_as_dict(row), "cache_hit": True}


@task(cache_policy=NO_CACHE)
def queue_preview(request: PreviewRequest) -> str:
    with session_scope() as session:
        return previews.mark_queued(session, request.sha256, LADDER_VERSION, current_flow_run_id())


@task(cache_policy=NO_CACHE)
def start_building(sha256: str, encoder: str) -> None:
    with session_scope() as session:
        previews.mark_building(session, sha256, LADDER_VERSION, encoder, current_flow_run_id())


@task(persist_result=True, retries=2, retry_delay_seconds=RETRY_DELAYS,
      retry_condition_fn=retry_transient)  # fmt: skip
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
        # A manifest already there is the first rendition (tasks/first_play.py): playable,
        # so neither the stream copy nor an early ladder manifest is needed.
        playable = manifest_published(request.sha256)
        copied = not playable and settings.preview_stream_copy and browser_friendly(probe)
        if copied:
            publish_stream_copy(source, probe, request.sha256, scratch)
        early = not (copied or playable)
        outputs = encode_ladder(
            source, probe, plan, encoder, request.sha256, scratch, early_manifest=early
        )
        mp4_key = publish_mp4(plan, request.sha256, scratch)
        poster_key = publish_poster(plan, request.sha256, scratch)
        storyboard_key = publish_storyboard(plan, request.sha256, scratch)
        manifest_key = publish_manifest(request.sha256, outputs, plan)
    return BuiltPreview(
        sha256=request.sha256,
        manifest_key=manifest_key,
        renditions=tuple(o.as_dict() for o in outputs),
        duration_s=round(probe.duration_s, 3),
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
    )


@task(cache_policy=NO_CACHE)
def record_ready(built: BuiltPreview, cache_hit: bool) -> dict[str, Any]:
    with session_scope() as session:
        row = previews.mark_ready(session, built)
        return {**built.as_dict(), **previews.preview_as_dict(row), "cache_hit": cache_hit}


@contextmanager
def scratch_directory(settings: Settings, sha256: str) -> Iterator[Path]:
    if settings.scratch_dir is not None:
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    path = Path(
        tempfile.mkdtemp(prefix=f"dailies-preview-{sha256[:12]}-", dir=settings.scratch_dir)
    )
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def record_preview_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow on_failure/on_crashed hook: the row says why, in words a person can act on.
    Parameter names matter: a worker's runner calls crash hooks with keyword arguments."""
    run = flow_run
    sha = str((run.parameters or {}).get("sha256", "")).strip().lower()
    if not is_sha256(sha):
        return  # a malformed request never had a row
    reason = failure_reason(state)
    with session_scope() as session:
        if masters.get_master(session, sha) is None:
            return  # unknown master: nothing to attach a row to
        previews.mark_failed(session, sha, LADDER_VERSION, reason, str(run.id))


def failure_reason(state: Any) -> str:
    message = str(getattr(state, "message", "") or "")
    for prefix in ("Flow run encountered an exception: ", "Task run encountered an exception: "):
        message = message.removeprefix(prefix)
    if getattr(state, "name", "") == "Crashed" or getattr(state, "type", None) == "CRASHED":
        return f"the preview worker stopped before finishing ({message or 'crashed'}); retry it"
    return message or "preview build failed"
