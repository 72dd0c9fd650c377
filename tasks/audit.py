"""I/O steps of the integrity audit. Work is batched (a task per batch, never per object):
Prefect's task-run bookkeeping would otherwise dominate at 100k objects."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from dailies.audit_rules import (
    BucketObject,
    CatalogEntry,
    Finding,
    LockState,
    judge_retention,
    latest_versions,
    markdown_summary,
)
from dailies.clients import s3_client, session_scope
from dailies.db import audits
from dailies.hashing import sha256_of_chunks
from dailies.settings import get_settings
from dailies.storage.masters import retention_from_head
from dailies.storage.objects import head, iter_object
from tasks.retry import transient_retries
from tasks.run_context import current_flow_run_id


@task
def load_catalog() -> list[CatalogEntry]:
    with session_scope() as session:
        return audits.catalog_entries(session)


@task(**transient_retries(3))
def list_masters_bucket() -> dict[str, BucketObject]:
    """Every key's latest version or delete marker (ListObjectVersions, paginated)."""
    settings = get_settings()
    paginator = s3_client(settings).get_paginator("list_object_versions")
    return latest_versions(paginator.paginate(Bucket=settings.masters_bucket))


@task(**transient_retries(3))
def check_retention_batch(entries: list[CatalogEntry]) -> list[Finding]:
    """HEAD each current version (threads within the batch) and judge its Object Lock."""
    settings = get_settings()
    s3 = s3_client(settings)
    now = datetime.now(UTC)

    def judge(entry: CatalogEntry) -> Finding | None:
        found = head(s3, settings.masters_bucket, entry.key)
        if found is None:  # deleted since the listing: the listing diff reports it next run
            return None
        lock = retention_from_head(found)
        state = LockState(
            entry.key,
            lock[0] if lock else None,
            lock[1] if lock else None,
            found.get("ObjectLockLegalHoldStatus") == "ON",
        )
        return judge_retention(entry, state, settings.retention_mode, now)

    with ThreadPoolExecutor(settings.audit_head_concurrency) as pool:
        return [f for f in pool.map(judge, entries) if f is not None]


@task(**transient_retries(2))
def rehash_batch(entries: list[CatalogEntry]) -> dict[str, Any]:
    """Stream each current version and compare its sha256 with its content address.

    Several objects at once: hashlib and socket reads release the GIL, so threads overlap
    the store's latency and use every core."""
    settings = get_settings()
    s3 = s3_client(settings)

    def rehash(entry: CatalogEntry) -> tuple[CatalogEntry, str, int]:
        chunks = iter_object(s3, settings.masters_bucket, entry.key, settings.hash_chunk_bytes)
        return (entry, *sha256_of_chunks(chunks))

    findings: list[Finding] = []
    verified: dict[str, bool] = {}
    hashed = 0
    with ThreadPoolExecutor(settings.audit_rehash_concurrency) as pool:
        for entry, digest, size in pool.map(rehash, entries):
            hashed += size
            verified[entry.sha256] = digest == entry.sha256
            if digest != entry.sha256:
                detail = f"content hashes to {digest}, not its address {entry.sha256}"
                findings.append(Finding("checksum_mismatch", entry.key, entry.sha256, detail))
    return {"findings": findings, "verified": verified, "bytes_hashed": hashed}


@task
def record_audit(
    checked: int, bytes_hashed: int, findings: list[Finding], verified: dict[str, bool]
) -> int:
    """audit_runs + audit_findings rows and each re-hashed master's last_verified_at."""
    with session_scope() as session:
        return audits.record_run(
            session,
            current_flow_run_id(),
            datetime.now(UTC),
            checked,
            bytes_hashed,
            findings,
            verified,
        )


@task
def publish_audit(run_id: int, checked: int, bytes_hashed: int, findings: list[Finding]) -> str:
    """Artifacts for the Prefect UI and an event per critical finding for automations."""
    summary = markdown_summary(checked, bytes_hashed, findings)
    create_markdown_artifact(
        key="masters-audit-summary", markdown=summary, description=f"audit run {run_id}"
    )
    create_table_artifact(
        key="masters-audit-findings",
        table=[
            {"kind": f.kind, "key": f.key, "sha256": f.sha256 or "", "detail": f.detail}
            for f in findings
        ]
        or [{"kind": "none", "key": "", "sha256": "", "detail": "no findings"}],
        description=f"audit run {run_id}",
    )
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
    return summary
