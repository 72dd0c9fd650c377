"""The I/O steps of promotion, one S3 or database step per task."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import Flow, task
from prefect.cache_policies import CachePolicy
from prefect.client.schemas.objects import FlowRun
from prefect.runtime import flow_run as current_flow_run
from prefect.states import State

from dailies import manifest, storage
from dailies.caching import content_cache_policy
from dailies.clients import s3_client, session_factory
from dailies.errors import ChecksumMismatch
from dailies.hashing import sha256_of_chunks
from dailies.promotion import (
    PromotionRequest,
    retain_until_from,
    retention_needs_update,
    verify_copy,
)
from dailies.settings import get_settings
from tasks.retry import RETRY_DELAYS, retry_transient

PROMOTION_CACHE_VERSION = "1"


def master_copy_cache_policy() -> CachePolicy:
    """One server-side copy per content and masters bucket, however many runs ask."""
    bucket = get_settings().masters_bucket
    return content_cache_policy(f"dailies-promote-v{PROMOTION_CACHE_VERSION}-{bucket}")


@task(retries=4, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_transient)
def hash_staging_object(request: PromotionRequest) -> dict[str, Any]:
    """Stream the staged object once and hash it; constant memory whatever its size."""
    settings = get_settings()
    s3 = s3_client(settings)
    head = storage.head_staging(s3, settings.staging_bucket, request.staging_key)
    etag = head["ETag"]
    chunks = storage.iter_object(
        s3, settings.staging_bucket, request.staging_key, settings.hash_chunk_bytes, etag
    )
    digest, size = sha256_of_chunks(chunks)
    return {"sha256": digest, "size_bytes": size, "etag": etag}


@task
def quarantine_mismatch(request: PromotionRequest, staged: dict[str, Any]) -> None:
    """Keep the staged object (never delete an editor's upload) and raise the mismatch."""
    if staged["sha256"] == request.sha256:
        return
    settings = get_settings()
    storage.tag_object(
        s3_client(settings),
        settings.staging_bucket,
        request.staging_key,
        {
            "dailies-quarantine": "checksum-mismatch",
            "dailies-expected-sha256": request.sha256,
            "dailies-computed-sha256": staged["sha256"],
        },
    )
    raise ChecksumMismatch(request.sha256, staged["sha256"], request.staging_key)


@task
def find_master(sha256: str) -> dict[str, Any] | None:
    with session_factory()() as session:
        master = manifest.get_master(session, sha256)
        return manifest.master_as_dict(master) if master else None


@task(
    retries=4,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_transient,
    persist_result=True,
)
def copy_to_masters(request: PromotionRequest, staged: dict[str, Any]) -> dict[str, Any]:
    """Server-side copy into the Object-Locked masters bucket (single or multipart)."""
    settings = get_settings()
    s3 = s3_client(settings)
    key = storage.masters_key_for(request.sha256)
    size = staged["size_bytes"]
    retain_until = retain_until_from(datetime.now(UTC), settings.retention_days)

    existing = storage.head(s3, settings.masters_bucket, key)
    if existing and (existing.get("Metadata") or {}).get("sha256") == request.sha256:
        # An earlier run copied it and died before recording it: adopt, don't copy again.
        verify_copy(existing, size, request.sha256)
        version_id = existing.get("VersionId") or ""
    else:
        dest = storage.LockedCopy(
            bucket=settings.masters_bucket,
            key=key,
            metadata={"sha256": request.sha256, "source-key": request.staging_key[-1024:]},
            retention_mode=settings.retention_mode,
            retain_until=retain_until,
        )
        storage.ensure_unchanged(s3, settings.staging_bucket, request.staging_key, staged["etag"])
        storage.abort_stale_uploads(s3, settings.masters_bucket, key)
        if size > settings.multipart_copy_threshold_bytes:
            version_id = storage.copy_multipart(
                s3,
                settings.staging_bucket,
                request.staging_key,
                staged["etag"],
                size,
                dest,
                settings.multipart_copy_part_bytes,
                settings.copy_concurrency,
            )
        else:
            version_id = storage.copy_single(
                s3, settings.staging_bucket, request.staging_key, staged["etag"], dest
            )
    return {
        "sha256": request.sha256,
        "masters_key": key,
        "version_id": version_id,
        "size_bytes": size,
        "retention_mode": settings.retention_mode,
        "retain_until": retain_until,
    }


@task(retries=4, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_transient)
def secure_master(copied: dict[str, Any]) -> dict[str, Any] | None:
    """Verify the new version and make sure its retention is in force.

    Returns None when the version a cached copy points at is not in the bucket (the cache
    outlived the bucket): the caller then copies afresh.
    """
    settings = get_settings()
    s3 = s3_client(settings)
    bucket, key, version = settings.masters_bucket, copied["masters_key"], copied["version_id"]
    head = storage.head(s3, bucket, key, version or None)
    if head is None:
        return None
    verify_copy(head, copied["size_bytes"], copied["sha256"])
    mode, until = copied["retention_mode"], copied["retain_until"]
    # Stores may drop lock headers (moto does on multipart uploads): re-assert them.
    current = storage.retention_from_head(head)
    if retention_needs_update(current, mode, until):
        storage.put_retention(s3, bucket, key, version, mode, until)
    elif current is not None:
        mode, until = current
    return {**copied, "etag": head.get("ETag"), "retention_mode": mode, "retain_until": until}


@task(retries=3, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_transient)
def record_promotion(
    request: PromotionRequest, secured: dict[str, Any], asset: dict[str, Any] | None
) -> dict[str, Any]:
    """Masters row, asset link and attempt in one transaction; one row per sha, ever."""
    with session_factory()() as session, session.begin():
        inserted = manifest.insert_master(
            session,
            {
                "sha256": request.sha256,
                "size_bytes": secured["size_bytes"],
                "masters_key": secured["masters_key"],
                "version_id": secured["version_id"],
                "etag": secured.get("etag"),
                "retention_mode": secured["retention_mode"],
                "retain_until": secured["retain_until"],
                "source_staging_key": request.staging_key,
            },
        )
        status = "promoted" if inserted else "already_promoted"
        return _finish(session, request, status, asset)


@task(retries=3, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_transient)
def record_already_promoted(
    request: PromotionRequest, asset: dict[str, Any] | None
) -> dict[str, Any]:
    with session_factory()() as session, session.begin():
        return _finish(session, request, "already_promoted", asset)


def _finish(
    session: Any, request: PromotionRequest, status: str, asset: dict[str, Any] | None
) -> dict[str, Any]:
    if asset and asset.get("asset_id"):
        attributes = {k: v for k, v in asset.items() if k != "asset_id"}
        manifest.link_asset(session, str(asset["asset_id"]), request.sha256, attributes)
    manifest.record_attempt(
        session, request.sha256, request.staging_key, status, flow_run_id=_flow_run_id()
    )
    master = manifest.get_master(session, request.sha256)
    assert master is not None  # inserted or found inside this transaction
    return {**manifest.master_as_dict(master), "status": status}


def record_failed_attempt(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Flow on_failure hook: every failed promotion leaves a row saying why."""
    params = flow_run.parameters or {}
    with session_factory()() as session, session.begin():
        manifest.record_attempt(
            session,
            str(params.get("sha256", ""))[:64],
            str(params.get("staging_key", ""))[:1024],
            "failed",
            reason=state.message,
            flow_run_id=str(flow_run.id),
        )


def _flow_run_id() -> str | None:
    run_id = current_flow_run.get_id()
    return str(run_id) if run_id else None
