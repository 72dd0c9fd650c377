"""I/O steps of the integrity audit. Work is sharded and batched (a task per shard of the key
space, a task per re-hash batch, never per object): Prefect's task-run bookkeeping would
otherwise dominate at a million masters. Each shard streams: its memory does not grow with
the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from dailies.audit_report import (
    SHOWN_FINDINGS,
    count_by_kind,
    findings_table,
    markdown_summary,
)
from dailies.audit_rules import (
    CatalogEntry,
    Finding,
    LockState,
    Shard,
    StrayRange,
    batched,
    judge_bucket_lock,
    judge_retention,
    latest_in_shard,
    merge_shard,
    needs_head,
    sample_period,
    strays_in,
    take_within_budget,
)
from dailies.clients import s3_client, session_scope
from dailies.db import audits
from dailies.hashing import sha256_of_chunks
from dailies.settings import Settings, get_settings
from dailies.storage.masters import retention_from_head
from dailies.storage.objects import error_code, head, iter_object
from tasks.retry import transient_retries
from tasks.run_context import current_flow_run_id


@task
def open_audit() -> int:
    """The audit_runs row first, so each shard records its findings as it finds them."""
    with session_scope() as session:
        return audits.open_run(session, current_flow_run_id())


@task(**transient_retries(3))
def check_bucket_lock(run_id: int) -> dict[str, int]:
    """The masters bucket's Object Lock configuration, once a run."""
    settings = get_settings()
    try:
        answer = s3_client(settings).get_object_lock_configuration(Bucket=settings.masters_bucket)
        configuration = answer.get("ObjectLockConfiguration")
    except ClientError as exc:
        if error_code(exc) != "ObjectLockConfigurationNotFoundError":
            raise
        configuration = None
    finding = judge_bucket_lock(settings.masters_bucket, configuration)
    record(run_id, [finding] if finding else [])
    return count_by_kind([finding] if finding else [])


def _catalog(shard: Shard, page_size: int) -> Iterator[CatalogEntry]:
    """The shard's catalog rows in key order, a keyset page (a short transaction) at a time."""
    after: str | None = None
    while True:
        with session_scope() as session:
            page = audits.catalog_page(session, shard, after, page_size)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1].key


def _listing(settings: Settings, shard: Shard) -> Iterator[dict[str, Any]]:
    """The shard's ListObjectVersions pages, lazily (a page at a time as the merge asks)."""
    paginator = s3_client(settings).get_paginator("list_object_versions")
    return iter(
        paginator.paginate(
            Bucket=settings.masters_bucket,
            Prefix=shard.prefix,
            PaginationConfig={"PageSize": settings.audit_list_page_size},
        )
    )


def _head_and_judge(settings: Settings, entry: CatalogEntry, now: datetime) -> Finding | None:
    found = head(s3_client(settings), settings.masters_bucket, entry.key)
    if found is None:  # deleted since the listing: the next run's listing reports it
        return None
    lock = retention_from_head(found)
    state = LockState(
        entry.key,
        lock[0] if lock else None,
        lock[1] if lock else None,
        found.get("ObjectLockLegalHoldStatus") == "ON",
    )
    return judge_retention(entry, state, settings.retention_mode, now)


def _publish_events(run_id: int, findings: list[Finding]) -> None:
    for finding in findings:
        if finding.critical:
            emit_event(
                event=f"dailies.audit.{finding.kind}",
                resource={
                    "prefect.resource.id": f"dailies.master.{finding.sha256 or finding.key}",
                    "prefect.resource.name": finding.key,
                },
                payload={"detail": finding.detail, "audit_run_id": run_id},
            )


def record(run_id: int, findings: list[Finding]) -> None:
    """Findings into audit_findings as they are found, and an event per critical one."""
    if findings:
        with session_scope() as session:
            audits.record_findings(session, run_id, findings)
        _publish_events(run_id, findings)


@task(**transient_retries(3))
def audit_shard(shard: Shard, run_id: int, now: datetime) -> dict[str, Any]:
    """Merge the shard's listing with its catalog rows, batch by batch; HEAD the masters
    whose retention must be seen tonight (needs_head); record what is wrong."""
    settings = get_settings()
    period = sample_period(settings.audit_retention_sample_percent)
    with session_scope() as session:  # a retried shard starts over: no finding twice
        audits.clear_shard_findings(session, run_id, shard)
    merged = merge_shard(
        _catalog(shard, settings.audit_batch_size),
        latest_in_shard(_listing(settings, shard), shard),
    )
    checked = heads = catalog_bytes = 0
    counts = count_by_kind([])
    with ThreadPoolExecutor(settings.audit_head_concurrency) as pool:
        for batch in batched(merged, settings.audit_batch_size):
            findings = [item for item in batch if isinstance(item, Finding)]
            present = [item for item in batch if isinstance(item, CatalogEntry)]
            due = [
                e
                for e in present
                if needs_head(
                    e, settings.retention_mode, now, settings.audit_retention_near_days, period
                )
            ]
            judged = pool.map(lambda e: _head_and_judge(settings, e, now), due)
            findings += [f for f in judged if f is not None]
            record(run_id, findings)
            checked += len(batch)
            heads += len(due)
            catalog_bytes += sum(e.size_bytes for e in present)
            for kind, n in count_by_kind(findings).items():
                counts[kind] += n
    return {"checked": checked, "heads": heads, "bytes": catalog_bytes, "counts": counts}


@task(**transient_retries(3))
def list_strays(run_id: int, gaps: list[StrayRange]) -> dict[str, int]:
    """Live objects under keys no shard's prefix holds: orphans. ListObjectsV2 with
    StartAfter, where ListObjectVersions' bare KeyMarker would do on S3, because moto drops
    the first version at or after a KeyMarker given without a VersionIdMarker."""
    settings = get_settings()
    paginator = s3_client(settings).get_paginator("list_objects_v2")
    findings: list[Finding] = []
    for gap in gaps:
        params: dict[str, Any] = {
            "Bucket": settings.masters_bucket,
            "PaginationConfig": {"PageSize": settings.audit_list_page_size},
        }
        if gap.start_after is not None:
            params["StartAfter"] = gap.start_after
        findings += strays_in(paginator.paginate(**params), gap)
    record(run_id, findings)
    return count_by_kind(findings)


@task
def pick_rehashes(run_id: int, budget_bytes: int) -> list[CatalogEntry]:
    """Oldest-verified first until the budget is spent, read in keyset pages that stop with
    it; masters this run found missing or resized are left out."""
    settings = get_settings()

    def ordered() -> Iterator[CatalogEntry]:
        after: CatalogEntry | None = None
        while True:
            with session_scope() as session:
                page = audits.rehash_page(session, run_id, after, settings.audit_batch_size)
            yield from page
            if len(page) < settings.audit_batch_size:
                return
            after = page[-1]

    return list(take_within_budget(ordered(), budget_bytes))


@task(**transient_retries(2))
def rehash_batch(entries: list[CatalogEntry], run_id: int, now: datetime) -> dict[str, Any]:
    """Stream each current version and compare its sha256 with its content address; HEAD
    those no shard HEADed tonight, so every re-hashed master's retention is seen too.

    Several objects at once: hashlib and socket reads release the GIL, so threads overlap
    the store's latency and use every core."""
    settings = get_settings()
    s3 = s3_client(settings)
    period = sample_period(settings.audit_retention_sample_percent)

    def rehash(entry: CatalogEntry) -> tuple[CatalogEntry, str, int, Finding | None]:
        lock = None
        near = settings.audit_retention_near_days
        if not needs_head(entry, settings.retention_mode, now, near, period):
            lock = _head_and_judge(settings, entry, now)
        chunks = iter_object(s3, settings.masters_bucket, entry.key, settings.hash_chunk_bytes)
        return (entry, *sha256_of_chunks(chunks), lock)

    findings: list[Finding] = []
    verified: dict[str, bool] = {}
    hashed = 0
    with ThreadPoolExecutor(settings.audit_rehash_concurrency) as pool:
        for entry, digest, size, lock in pool.map(rehash, entries):
            hashed += size
            verified[entry.sha256] = digest == entry.sha256
            if digest != entry.sha256:
                detail = f"content hashes to {digest}, not its address {entry.sha256}"
                findings.append(Finding("checksum_mismatch", entry.key, entry.sha256, detail))
            if lock is not None:
                findings.append(lock)
    record(run_id, findings)
    return {"counts": count_by_kind(findings), "verified": verified, "bytes_hashed": hashed}


@task
def finish_audit(
    run_id: int,
    checked: int,
    bytes_hashed: int,
    counts: dict[str, int],
    verified: dict[str, bool],
) -> None:
    with session_scope() as session:
        audits.finish_run(
            session, run_id, datetime.now(UTC), checked, bytes_hashed, counts, verified
        )


@task
def publish_audit(run_id: int, checked: int, bytes_hashed: int, counts: dict[str, int]) -> str:
    """A summary and a table of the first findings for the Prefect UI, each saying where
    the rest are (the API route, the SQL): never a row per finding."""
    with session_scope() as session:
        rows = audits.findings_page(session, run_id, 0, SHOWN_FINDINGS)
        shown = [(r.id, Finding(r.kind, r.key, r.sha256, r.detail)) for r in rows]
    summary = markdown_summary(checked, bytes_hashed, counts, shown, run_id)
    create_markdown_artifact(
        key="masters-audit-summary", markdown=summary, description=f"audit run {run_id}"
    )
    create_table_artifact(
        key="masters-audit-findings",
        table=findings_table(shown, sum(counts.values()), run_id),
        description=f"audit run {run_id}: the first {SHOWN_FINDINGS} findings",
    )
    return summary
