"""Audit speed at 10k objects: listing diff objects/s, whole-audit objects/s, and re-hash
bytes/s against the single-core sha256 limit measured in the same run.

    uv run python bench/audit.py [--objects 10000] [--rehash-mib 256]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from stack import bench_stack

MiB = 1024**2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rehash-mib", type=int, default=256)
    args = parser.parse_args()
    with bench_stack("audit", {"DAILIES_AUDIT_REHASH_BUDGET_BYTES": "0"}):
        run(args.objects, args.rehash_mib)


def seed(n: int, big: int) -> None:
    """n small locked masters plus `big` 8 MiB ones, each with its catalog row."""
    from dailies.clients import s3_client, session_scope
    from dailies.db.models import Master
    from dailies.settings import get_settings
    from ops.bootstrap import bootstrap

    settings = get_settings()
    bootstrap(settings)
    s3 = s3_client(settings)
    until = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    def put(i: int) -> dict:
        body = os.urandom(8 * MiB) if i < big else f"master {i}".encode() * 16
        sha = hashlib.sha256(body).hexdigest()
        s3.put_object(
            Bucket=settings.masters_bucket,
            Key=sha,
            Body=body,
            ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode(),
            ObjectLockMode=settings.retention_mode,
            ObjectLockRetainUntilDate=until,
        )
        return {
            "sha256": sha,
            "size_bytes": len(body),
            "masters_key": sha,
            "retention_mode": settings.retention_mode,
            "retain_until": until,
            "source_staging_key": f"uploads/bench/{i}",
            # the small ones count as freshly verified, so the re-hash picks the big ones
            "last_verified_at": None if i < big else datetime.now(UTC),
        }

    with ThreadPoolExecutor(16) as pool:
        rows = list(pool.map(put, range(n + big)))
    with session_scope() as session:
        session.bulk_insert_mappings(Master, rows)  # type: ignore[arg-type]


def run(n: int, rehash_mib: int) -> None:
    from dailies.audit_rules import diff_listing
    from dailies.settings import get_settings
    from flows.audit import audit_masters
    from tasks.audit import list_masters_bucket, load_catalog, rehash_batch

    big = max(1, rehash_mib // 8)
    started = time.perf_counter()
    seed(n, big)
    seed_s = time.perf_counter() - started
    total = n + big

    started = time.perf_counter()
    catalog = load_catalog.fn()
    catalog_s = time.perf_counter() - started
    latest = list_masters_bucket.fn()
    listing_s = time.perf_counter() - started - catalog_s
    findings = diff_listing(catalog, latest)
    diff_s = time.perf_counter() - started
    pure_s = diff_s - catalog_s - listing_s
    assert not findings, findings[:3]

    state = None
    started = time.perf_counter()
    state = audit_masters(return_state=True)
    audit_s = time.perf_counter() - started
    assert state.is_completed(), state.message

    picked = [e for e in catalog if e.size_bytes == 8 * MiB]
    started = time.perf_counter()
    hashed = rehash_batch.fn(picked)
    rehash_s = time.perf_counter() - started
    assert not hashed["findings"]

    buffer = os.urandom(8 * MiB)
    started = time.perf_counter()
    for _ in range(big):
        hashlib.sha256(buffer).hexdigest()
    limit_s = time.perf_counter() - started
    nbytes = hashed["bytes_hashed"]

    body = f"""
{total} masters in moto's S3 server (seeded in {seed_s:.0f} s), catalog in SQLite; re-hash
budget 0 for the whole-audit row so it measures listing, diff and retention HEADs.

| what | seconds | rate |
| --- | --- | --- |
| listing diff (ListObjectVersions + catalog read + diff) | {diff_s:.2f} | {total / diff_s:,.0f} objects/s |
| … of which ListObjectVersions pages from moto | {listing_s:.2f} | {total / listing_s:,.0f} objects/s |
| … of which the catalog read | {catalog_s:.2f} | {total / catalog_s:,.0f} objects/s |
| … of which the diff itself (pure) | {pure_s:.3f} | {total / max(pure_s, 1e-6):,.0f} objects/s |
| whole audit flow (diff + a HEAD per object for retention + records + artifacts) | {audit_s:.2f} | {total / audit_s:,.0f} objects/s |
| re-hash through S3 ({big} x 8 MiB) | {rehash_s:.2f} | {nbytes / MiB / rehash_s:,.0f} MiB/s |
| single-core sha256 over memory (the limit) | {limit_s:.2f} | {nbytes / MiB / limit_s:,.0f} MiB/s |

- re-hash throughput vs the single-core sha256 limit: **{limit_s / rehash_s:.2f}x** of the limit
- settings: batch {get_settings().audit_batch_size}, HEAD concurrency {get_settings().audit_head_concurrency}, re-hash concurrency {get_settings().audit_rehash_concurrency}
"""
    from results import write_section

    write_section("audit", body)
    print(body)


if __name__ == "__main__":
    main()
