"""The I/O steps of promotion, one S3 or database step per task."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prefect import Flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import CachePolicy
from prefect.client.schemas.objects import FlowRun
from prefect.states import State
from sqlalchemy.orm import Session

from dailies.caching import content_cache_policy
from dailies.clients import s3_client, s3_copy_client, session_scope
from dailies.copy_plan import plan_copy_parts
from dailies.db import masters
from dailies.db.masters import PromotionOutcome
from dailies.errors import AssetLinkRefused, ChecksumMismatch
from dailies.handoffs import CopiedMaster, MasterRecord, StagedObject
from dailies.hashing import sha256_of_chunks
from dailies.media.commands.first_rendition import (
    FIRST_RENDITION,
    build_first_poster_args,
    plan_first_rendition,
)
from dailies.media.commands.probe import ffprobe_args
from dailies.media.probe import parse_probe
from dailies.media.runner import run_ffmpeg, run_ffprobe
from dailies.previews.layout import POSTER_NAME, rendition_key
from dailies.promotion_rules import (
    PromotionRequest,
    asset_link,
    promotion_summary,
    retain_until_from,
    retention_needs_update,
    verify_copy,
)
from dailies.scratch import make_scratch
from dailies.settings import MiB, Settings, get_settings
from dailies.storage import masters as masters_bucket
from dailies.storage import previews as preview_store
from dailies.storage.objects import head, tag_object
from dailies.storage.ranged import iter_object_parts
from dailies.storage.staging import head_staging
from tasks.retry import transient_retries
from tasks.run_context import current_flow_run_id, run_logger

# A probe reads a few ranges; a store that cannot serve them in this long gets no probe.
PROBE_TIMEOUT_S = 60.0
# One picture decoded from the master's first GOP (a 4K ProRes frame: about a second here).
POSTER_TIMEOUT_S = 60.0

# 2: results are CopiedMaster records, not dicts.
PROMOTION_CACHE_VERSION = "2"


def master_copy_cache_policy() -> CachePolicy:
    """One server-side copy per content and masters bucket, however many runs ask."""
    bucket = get_settings().masters_bucket
    return content_cache_policy(f"dailies-promote-v{PROMOTION_CACHE_VERSION}-{bucket}")


@task(
    task_run_name="hash-{request.sha256:.12}",
    **transient_retries(4),
)
def hash_staging_object(request: PromotionRequest) -> StagedObject:
    """Hash the staged object as it is at its HEAD: parallel ranged GETs, each under If-Match
    of the ETag the copy is later guarded by, fed to sha256 in order; memory bounded by
    hash_parts_in_flight x hash_part_bytes whatever its size."""
    settings = get_settings()
    s3 = s3_client(settings)
    logger = run_logger("dailies.promotion")
    head = head_staging(s3, settings.staging_bucket, request.staging_key)
    etag, total = head["ETag"], int(head.get("ContentLength", 0))
    logger.info("hashing s3://%s/%s (%s, %d ranged GETs of %s at a time)",
                settings.staging_bucket, request.staging_key, _mib(total),
                settings.hash_parts_in_flight, _mib(settings.hash_part_bytes))  # fmt: skip
    chunks = iter_object_parts(
        s3, settings.staging_bucket, request.staging_key, total, etag,
        settings.hash_part_bytes, settings.hash_parts_in_flight,
    )  # fmt: skip
    started = time.monotonic()
    digest, size = sha256_of_chunks(_logging_progress(chunks, total, logger))
    seconds = max(time.monotonic() - started, 1e-6)
    logger.info("sha256 %s over %s in %.1f s (%.0f MiB/s)", digest, _mib(size), seconds,
                size / MiB / seconds)  # fmt: skip
    return StagedObject(sha256=digest, size_bytes=size, etag=etag)


def _logging_progress(
    chunks: Iterator[memoryview], total: int, logger: Any, every_s: float = 5.0
) -> Iterator[memoryview]:
    """Pass chunks through, saying how far the hash has got every few seconds."""
    done, started = 0, time.monotonic()
    last = started
    for chunk in chunks:
        done += len(chunk)
        if time.monotonic() - last >= every_s:
            last = time.monotonic()
            share = f" ({done / total:.0%})" if total else ""
            rate = done / MiB / (last - started)
            logger.info("hashed %s of %s%s, %.0f MiB/s", _mib(done), _mib(total), share, rate)
        yield chunk


def _mib(size: int) -> str:
    return f"{size / MiB:,.1f} MiB"


@task
def quarantine_mismatch(request: PromotionRequest, staged: StagedObject) -> None:
    """Keep the staged object (never delete an editor's upload) and raise the mismatch."""
    if staged.sha256 == request.sha256:
        return
    settings = get_settings()
    tag_object(
        s3_client(settings),
        settings.staging_bucket,
        request.staging_key,
        {
            "dailies-quarantine": "checksum-mismatch",
            "dailies-expected-sha256": request.sha256,
            "dailies-computed-sha256": staged.sha256,
        },
    )
    raise ChecksumMismatch(request.sha256, staged.sha256, request.staging_key)


@task
def find_master(sha256: str) -> MasterRecord | None:
    with session_scope() as session:
        return masters.get_master(session, sha256)


@task(
    **transient_retries(4),
    persist_result=True,
)
def copy_to_masters(request: PromotionRequest, staged: StagedObject) -> CopiedMaster:
    """Server-side copy into the Object-Locked masters bucket (single or multipart)."""
    settings = get_settings()
    s3 = s3_client(settings)
    key = masters_bucket.masters_key_for(request.sha256)
    size = staged.size_bytes
    retain_until = retain_until_from(datetime.now(UTC), settings.retention_days)

    existing = head(s3, settings.masters_bucket, key)
    if existing and (existing.get("Metadata") or {}).get("sha256") == request.sha256:
        # An earlier run copied it and died before recording it: adopt, don't copy again.
        verify_copy(existing, size, request.sha256)
        version_id = existing.get("VersionId") or ""
    else:
        dest = masters_bucket.LockedCopy(
            bucket=settings.masters_bucket,
            key=key,
            metadata={"sha256": request.sha256, "source-key": request.staging_key[-1024:]},
            retention_mode=settings.retention_mode,
            retain_until=retain_until,
        )
        masters_bucket.ensure_unchanged(
            s3, settings.staging_bucket, request.staging_key, staged.etag
        )
        version_id = _copy(settings, request.staging_key, staged, dest)
    return CopiedMaster(
        sha256=request.sha256,
        masters_key=key,
        version_id=version_id,
        size_bytes=size,
        retention_mode=settings.retention_mode,
        retain_until=retain_until,
    )


def _copy(
    settings: Settings, staging_key: str, staged: StagedObject, dest: masters_bucket.LockedCopy
) -> str:
    """The server-side copy, logged: which kind, how long, what a resumed upload held."""
    logger = run_logger("dailies.promotion")
    copy_s3, size, started = s3_copy_client(settings), staged.size_bytes, time.monotonic()
    source = (settings.staging_bucket, staging_key, staged.etag)
    if size > settings.multipart_copy_threshold_bytes:
        parts = plan_copy_parts(size, settings.multipart_copy_part_bytes)
        logger.info("copying to s3://%s/%s: multipart, %d parts of %s, %d at a time",
                    dest.bucket, dest.key, len(parts), _mib(parts[0].size),
                    settings.copy_concurrency)  # fmt: skip
        version_id, held = masters_bucket.copy_multipart(
            copy_s3, *source, dest, parts, settings.copy_concurrency
        )
        resumed = f"; {held} of {len(parts)} parts were in an earlier run's upload" if held else ""
    else:
        logger.info("copying to s3://%s/%s: one CopyObject", dest.bucket, dest.key)
        masters_bucket.abort_stale_uploads(copy_s3, dest.bucket, dest.key)
        version_id, resumed = masters_bucket.copy_single(copy_s3, *source, dest), ""
    seconds = max(time.monotonic() - started, 1e-6)
    logger.info("copied %s in %.1f s (%.0f MiB/s)%s", _mib(size), seconds,
                size / MiB / seconds, resumed)  # fmt: skip
    return version_id


@task(**transient_retries(4))
def secure_master(copied: CopiedMaster) -> CopiedMaster | None:
    """Verify the new version and make sure its retention is in force.

    Returns None when the version a cached copy points at is not in the bucket (the cache
    outlived the bucket): the caller then copies afresh.
    """
    settings = get_settings()
    s3 = s3_client(settings)
    bucket, key, version = settings.masters_bucket, copied.masters_key, copied.version_id
    found = head(s3, bucket, key, version or None)
    if found is None:
        return None
    verify_copy(found, copied.size_bytes, copied.sha256)
    # Ceph RGW answers CopyObject without x-amz-version-id: name the version HEAD found, so
    # retention and the catalog row point at it and not at "" (the copy ran under the
    # sha's lock, so the latest version is ours).
    version = version or str(found.get("VersionId") or "")
    copied = dataclasses.replace(copied, version_id=version)
    mode, until = copied.retention_mode, copied.retain_until
    # Stores may drop lock headers (moto and RGW on multipart uploads, RGW on CopyObject too):
    # re-assert them.
    current = masters_bucket.retention_from_head(found)
    if retention_needs_update(current, mode, until):
        masters_bucket.put_retention(s3, bucket, key, version, mode, until)
    elif current is not None:
        mode, until = current
    return dataclasses.replace(
        copied, etag=found.get("ETag"), retention_mode=mode, retain_until=until
    )


@task
def probe_master(secured: CopiedMaster) -> dict[str, Any] | None:
    """ffprobe's description of the new master, read where it lies (ranged GETs through a
    short-lived URL), for the catalog row: a reviewer's first play then starts without a
    probe over the network. Never fails the promotion: a master ffprobe cannot read is still
    kept, and previews probe it themselves (and say why they cannot build it)."""
    settings = get_settings()
    url = preview_store.presigned_master_url(s3_client(settings), settings, secured, 600)
    try:
        return run_ffprobe(ffprobe_args(settings.ffprobe_bin, url), PROBE_TIMEOUT_S)
    except Exception as exc:  # UnplayableMaster, a timeout, the store blinking: all optional
        run_logger("dailies.promotion").warning(
            "%s kept without a probe (previews will probe it): %s", secured.sha256[:12], exc
        )
        return None


@task(task_run_name="first-poster-{secured.sha256:.12}")
def publish_first_poster(secured: CopiedMaster, probe: dict[str, Any] | None) -> str | None:
    """The first rendition's poster (its first picture, at its size), made now from the master
    and published under first/: a page opened on a master nobody has asked to preview yet has
    a picture within a second, before any build starts. Written only where none exists (the
    edge keeps it for good). Never fails the promotion: without it, the first rendition makes
    one as before; a master without a probe gets none here."""
    if probe is None:
        return None
    settings = get_settings()
    s3 = s3_client(settings)
    key = rendition_key(secured.sha256, FIRST_RENDITION, POSTER_NAME)
    logger = run_logger("dailies.promotion")
    scratch = make_scratch(settings.scratch_dir, "dailies-poster-", secured.sha256)
    try:
        parsed = parse_probe(probe)
        plan = plan_first_rendition(parsed, secured.size_bytes)
        url = preview_store.presigned_master_url(s3, settings, secured, 600)
        out = scratch / POSTER_NAME
        args = build_first_poster_args(url, parsed, plan, out, settings.ffmpeg_bin)
        run_ffmpeg(args, "poster", timeout_s=POSTER_TIMEOUT_S)
        preview_store.upload_preview_bytes_if_absent(
            s3, settings, key, out.read_bytes(), final=True
        )
    except Exception as exc:  # UnplayableMaster, EncodeFailed, the store blinking: optional
        logger.warning("%s: no poster at promotion (its first rendition makes one): %s",
                       secured.sha256[:12], exc)  # fmt: skip
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info(
        "poster: s3://%s/%s (%dx%d)", settings.previews_bucket, key, plan.width, plan.height
    )
    return key


@task(**transient_retries(3))
def record_promotion(
    request: PromotionRequest,
    secured: CopiedMaster,
    asset: dict[str, Any] | None,
    probe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Masters row, asset link and attempt in one transaction; one row per sha, ever."""
    with session_scope() as session:
        inserted = masters.insert_master(session, secured, request.staging_key, probe)
        outcome = PromotionOutcome.PROMOTED if inserted else PromotionOutcome.ALREADY_PROMOTED
        result, refused = _finish(session, request, outcome, asset)
    return _summarise(request, result, refused)


@task(**transient_retries(3))
def record_already_promoted(
    request: PromotionRequest, asset: dict[str, Any] | None
) -> dict[str, Any]:
    with session_scope() as session:
        result, refused = _finish(session, request, PromotionOutcome.ALREADY_PROMOTED, asset)
    return _summarise(request, result, refused)


def _summarise(
    request: PromotionRequest, result: dict[str, Any], refused: AssetLinkRefused | None
) -> dict[str, Any]:
    """A log line and a markdown artifact: what ops look for in the run's page. A refused
    link fails the run, once the master and the attempt saying so are committed."""
    run_logger("dailies.promotion").info(
        "%s: s3://%s/%s version %s, %s until %s", result["status"],
        get_settings().masters_bucket, result["masters_key"],
        result["version_id"], result["retention_mode"], result["retain_until"],
    )  # fmt: skip
    create_markdown_artifact(
        key=f"promotion-{request.sha256[:16]}",
        description=f"promotion of {request.staging_key}",
        markdown=promotion_summary(request.staging_key, result),
    )
    if refused is not None:
        raise refused
    return result


def _finish(
    session: Session,
    request: PromotionRequest,
    outcome: PromotionOutcome,
    asset: dict[str, Any] | None,
) -> tuple[dict[str, Any], AssetLinkRefused | None]:
    """The asset link and the attempt row, in the caller's transaction; the masters row as
    the result, and the refusal when the asset was another editor's."""
    link = asset_link(asset)
    refused = None
    if link is not None and not masters.link_asset(session, link, request.sha256):
        refused = AssetLinkRefused(link.asset_id, request.sha256)
    masters.record_attempt(
        session,
        request.sha256,
        request.staging_key,
        PromotionOutcome.LINK_REFUSED if refused else outcome,
        reason=str(refused) if refused else None,
        flow_run_id=current_flow_run_id(),
    )
    master = masters.get_master(session, request.sha256)
    assert master is not None  # inserted or found inside this transaction
    return {**master.as_dict(), "status": outcome.value}, refused


def record_failed_attempt(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Flow on_failure hook: every failed promotion leaves a row saying why."""
    params = flow_run.parameters or {}
    with session_scope() as session:
        if masters.link_refused(session, str(flow_run.id)):
            return  # recorded with the master it promoted, in the same transaction
        masters.record_attempt(
            session,
            str(params.get("sha256", ""))[:64],
            str(params.get("staging_key", ""))[:1024],
            PromotionOutcome.FAILED,
            reason=state.message,
            flow_run_id=str(flow_run.id),
        )
