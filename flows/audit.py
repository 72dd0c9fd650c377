"""The scheduled integrity audit: the masters bucket still holds what the catalog says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, unmapped
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from dailies import runs
from dailies.audit_report import add_counts
from dailies.audit_rules import chunked, plan_shards, rehash_budget, stray_ranges
from dailies.settings import Settings, get_settings
from tasks.audit import (
    audit_shard,
    check_bucket_lock,
    finish_audit,
    list_strays,
    open_audit,
    pick_rehashes,
    publish_audit,
    rehash_batch,
)


@flow(
    name="integrity-audit",
    flow_run_name=runs.audit_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=4),  # type: ignore[arg-type]
)
def _audit_masters(rehash_budget_bytes: int | None = None) -> State[Any]:
    """Merge bucket and catalog shard by shard, check retention (the bucket's lock, the
    recorded dates, HEADs where due), re-hash a rolling subset; fail on findings."""
    settings = get_settings()
    now = datetime.now(UTC)
    run_id = open_audit()
    shards = plan_shards(int(settings.audit_shards))
    merged = audit_shard.map(shards, unmapped(run_id), unmapped(now)).result()
    stray_counts = list_strays(run_id, stray_ranges(shards))
    bucket_counts = check_bucket_lock(run_id)

    budget = rehash_budget(
        settings.audit_rehash_budget_bytes if rehash_budget_bytes is None else rehash_budget_bytes,
        sum(m["bytes"] for m in merged),
        settings.audit_reverify_days,
    )
    picked = pick_rehashes(run_id, budget)
    batches = chunked(picked, max(1, settings.audit_batch_size // 10))
    hashed = rehash_batch.map(batches, unmapped(run_id), unmapped(now)).result()
    bytes_hashed = sum(h["bytes_hashed"] for h in hashed)
    verified = {sha: ok for h in hashed for sha, ok in h["verified"].items()}

    checked = sum(m["checked"] for m in merged) + stray_counts["orphaned"]
    parts = [bucket_counts, stray_counts, *(m["counts"] for m in merged)]
    counts = add_counts(*parts, *(h["counts"] for h in hashed))
    finish_audit(run_id, checked, bytes_hashed, counts, verified)
    summary = publish_audit(run_id, checked, bytes_hashed, counts)
    result = {
        "audit_run_id": run_id,
        "objects_checked": checked,
        "retention_heads": sum(m["heads"] for m in merged),
        "retention_day": now.date().isoformat(),
        "bytes_hashed": bytes_hashed,
        "masters_rehashed": len(verified),
        "findings": counts,
    }
    if any(counts.values()):
        return Failed(message=summary, data=result)
    return Completed(
        message=f"clean: {checked} objects, {bytes_hashed} bytes re-hashed", data=result
    )


def _task_runner(settings: Settings) -> Any:
    """Fan shards out on Dask or Ray when configured (prefect-dask / prefect-ray installed)."""
    if settings.audit_task_runner == "dask":
        from prefect_dask import DaskTaskRunner  # type: ignore[import-not-found]

        return DaskTaskRunner()
    if settings.audit_task_runner == "ray":
        from prefect_ray import RayTaskRunner  # type: ignore[import-not-found]

        return RayTaskRunner()
    return ThreadPoolTaskRunner(max_workers=4)


audit_masters = _audit_masters.with_options(task_runner=_task_runner(get_settings()))
