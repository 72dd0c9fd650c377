"""The scheduled integrity audit: the masters bucket still holds what the catalog says."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from dailies.audit_rules import chunked, count_by_kind, diff_listing, pick_for_rehash, rehash_budget
from dailies.settings import Settings, get_settings
from tasks.audit import (
    check_retention_batch,
    list_masters_bucket,
    load_catalog,
    publish_audit,
    record_audit,
    rehash_batch,
)


@flow(name="integrity-audit", task_runner=ThreadPoolTaskRunner(max_workers=4))  # type: ignore[arg-type]
def _audit_masters(rehash_budget_bytes: int | None = None) -> State[Any]:
    """Diff bucket vs catalog, check retention, re-hash a rolling subset; fail on findings."""
    settings = get_settings()
    catalog = load_catalog()
    latest = list_masters_bucket()
    findings = diff_listing(catalog, latest)

    flagged = {f.key for f in findings}
    present = [e for e in catalog if e.key not in flagged]
    batches = chunked(present, settings.audit_batch_size)
    for batch_findings in check_retention_batch.map(batches).result():
        findings += batch_findings

    budget = rehash_budget(
        settings.audit_rehash_budget_bytes if rehash_budget_bytes is None else rehash_budget_bytes,
        sum(e.size_bytes for e in present),
        settings.audit_reverify_days,
    )
    picked = pick_for_rehash(present, budget)
    hashed = rehash_batch.map(chunked(picked, max(1, settings.audit_batch_size // 10))).result()
    findings += [f for h in hashed for f in h["findings"]]
    bytes_hashed = sum(h["bytes_hashed"] for h in hashed)
    verified = {sha: ok for h in hashed for sha, ok in h["verified"].items()}

    checked = len(set(latest) | {e.key for e in catalog})
    run_id = record_audit(checked, bytes_hashed, findings, verified)
    summary = publish_audit(run_id, checked, bytes_hashed, findings)
    result = {
        "audit_run_id": run_id,
        "objects_checked": checked,
        "bytes_hashed": bytes_hashed,
        "masters_rehashed": len(verified),
        "findings": count_by_kind(findings),
    }
    if findings:
        return Failed(message=summary, data=result)
    return Completed(
        message=f"clean: {checked} objects, {bytes_hashed} bytes re-hashed", data=result
    )


def _task_runner(settings: Settings) -> Any:
    """Fan batches out on Dask or Ray when configured (prefect-dask / prefect-ray installed)."""
    if settings.audit_task_runner == "dask":
        from prefect_dask import DaskTaskRunner  # type: ignore[import-not-found]

        return DaskTaskRunner()
    if settings.audit_task_runner == "ray":
        from prefect_ray import RayTaskRunner  # type: ignore[import-not-found]

        return RayTaskRunner()
    return ThreadPoolTaskRunner(max_workers=4)


audit_masters = _audit_masters.with_options(task_runner=_task_runner(get_settings()))
