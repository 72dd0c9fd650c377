"""The nightly integrity audit at scale: seed N masters (locked objects and catalog rows),
plant one fault of each kind the audit must find among them, run the audit flow, and print

    RESULT audit objects=… seconds=… objects_per_s=… peak_rss_mib=…

with the seeding time, and (--old-method) the same audit with a retention HEAD for every
master, as the audit did before it sampled (bench/RESULTS.md's earlier 170 objects/s).

    uv run python bench/audit.py --objects 100000 --store rgw [--old-method]

moto rebuilds its whole version list for every ListObjectVersions page (a deep copy of
every key), so a listing there costs O(N) a page and O(N²) a bucket: past ~20k objects
moto measures moto. RGW (as `dailies up --store rgw` runs it) is the store to read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import islice
from typing import Any

import stack as stack_module
from stack import bench_stack

MiB = 1024**2
SEED_BATCH = 5000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--store", choices=("moto", "rgw"), default="moto")
    parser.add_argument("--seed-concurrency", type=int, default=32)
    parser.add_argument("--old-method", action="store_true", help="also HEAD every master")
    parser.add_argument("--no-write", action="store_true", help="leave bench/RESULTS.md alone")
    args = parser.parse_args()
    # GOVERNANCE, so a retention can be shortened; a re-hash budget of a month's rotation
    # (the catalog's bytes / 30 a night), not 10 GiB, which would read every small master
    env = {"DAILIES_RETENTION_MODE": "GOVERNANCE", "DAILIES_AUDIT_REHASH_BUDGET_BYTES": "0"}
    # No UI (its static build is copied at each start), and time to start on a busy box
    os.environ["PREFECT_UI_ENABLED"] = "false"
    stack_module.start_prefect_server = partial(stack_module.start_prefect_server, timeout_s=600)
    stack = bench_stack("audit", env) if args.store == "moto" else bench_stack(
        "audit", env, store=args.store
    )  # fmt: skip
    with stack:
        run(args)


def _body(i: int) -> bytes:
    return f"master {i}\n".encode() * 8


def seed(n: int, concurrency: int) -> datetime:
    """n small locked masters and their rows, a batch of puts then its rows at a time (so
    seeding's memory does not grow with n). Returns their retain-until."""
    from sqlalchemy import insert

    from dailies.clients import s3_client, session_scope
    from dailies.db.models import Master
    from dailies.settings import get_settings
    from ops.bootstrap import bootstrap

    settings = get_settings()
    bootstrap(settings)
    s3 = s3_client(settings)
    until = (datetime.now(UTC) + timedelta(days=300)).replace(microsecond=0)
    verified = datetime.now(UTC) - timedelta(days=1)

    def put(i: int) -> dict[str, Any]:
        body = _body(i)
        sha = hashlib.sha256(body).hexdigest()
        s3.put_object(
            Bucket=settings.masters_bucket, Key=sha, Body=body,
            ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode(),
            ObjectLockMode=settings.retention_mode, ObjectLockRetainUntilDate=until,
        )  # fmt: skip
        return {
            "sha256": sha, "size_bytes": len(body), "masters_key": sha,
            "retention_mode": settings.retention_mode, "retain_until": until,
            "source_staging_key": f"uploads/bench/{i}", "last_verified_at": verified,
        }  # fmt: skip

    numbers = iter(range(n))
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        while batch := list(islice(numbers, SEED_BATCH)):
            rows = list(pool.map(put, batch))
            with session_scope() as session:
                session.execute(insert(Master), rows)
            done = batch[-1] + 1
            rate = done / (time.perf_counter() - started)
            print(f"seeded {done}/{n} ({rate:.0f}/s)", flush=True)
    return until


def plant_faults(until: datetime) -> dict[str, str]:
    """One of each: a delete marker over a master, a retention shortened behind the
    catalog's back (its recorded end near, so tonight's HEADs include it), a master
    rewritten with other bytes of its size (never verified, so tonight's re-hash reads
    it), an orphan."""
    from sqlalchemy import update

    from dailies.clients import s3_client, session_scope
    from dailies.db.models import Master
    from dailies.settings import get_settings

    settings = get_settings()
    s3, bucket = s3_client(settings), settings.masters_bucket
    keys = {name: hashlib.sha256(_body(i)).hexdigest() for name, i in
            (("missing", 11), ("retention_lapsed", 22), ("checksum_mismatch", 33))}  # fmt: skip
    s3.delete_object(Bucket=bucket, Key=keys["missing"])
    near = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    s3.put_object_retention(
        Bucket=bucket, Key=keys["retention_lapsed"], BypassGovernanceRetention=True,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": near - timedelta(days=1)},
    )  # fmt: skip
    other = bytes(reversed(_body(33)))
    s3.put_object(
        Bucket=bucket, Key=keys["checksum_mismatch"], Body=other,
        ContentMD5=base64.b64encode(hashlib.md5(other).digest()).decode(),
        ObjectLockMode=settings.retention_mode, ObjectLockRetainUntilDate=until,
    )  # fmt: skip
    keys["orphaned"] = "f" * 64
    s3.put_object(Bucket=bucket, Key=keys["orphaned"], Body=b"orphan")
    with session_scope() as session:
        session.execute(
            update(Master).where(Master.sha256 == keys["retention_lapsed"]).values(
                retain_until=near)
        )  # fmt: skip
    _never_verified(keys["checksum_mismatch"])
    return keys


def _never_verified(sha: str) -> None:
    from sqlalchemy import update

    from dailies.clients import session_scope
    from dailies.db.models import Master

    with session_scope() as session:
        session.execute(update(Master).where(Master.sha256 == sha).values(last_verified_at=None))


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """This process's peak resident set while the block runs (VmRSS sampled every 50 ms;
    ru_maxrss would report seeding's peak too)."""
    peak = {"mib": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        peak["mib"] = max(peak["mib"], int(line.split()[1]) / 1024)
            done.wait(0.05)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        yield peak
    finally:
        done.set()
        watcher.join()


def audit(planted: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    from sqlalchemy import select

    from dailies.clients import session_scope
    from dailies.db.models import AuditFinding
    from flows.audit import audit_masters

    with peak_rss() as peak:
        started = time.perf_counter()
        state = audit_masters(return_state=True)
        seconds = time.perf_counter() - started
    result = state.result(raise_on_failure=False)
    with session_scope() as session:
        found = {(f.kind, f.key) for f in session.scalars(
            select(AuditFinding).where(AuditFinding.run_id == result["audit_run_id"]))}  # fmt: skip
    assert found == {(kind, key) for kind, key in planted.items()}, found
    return seconds, peak["mib"], result


def run(args: argparse.Namespace) -> None:
    from dailies.clients import reset_clients
    from dailies.settings import get_settings

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    started = time.perf_counter()
    until = seed(args.objects, args.seed_concurrency)
    seed_s = time.perf_counter() - started
    planted = plant_faults(until)
    total = args.objects + 1  # and the orphan
    settings = get_settings()
    print(f"seeded {args.objects} masters on {args.store} in {seed_s:.0f} s; {load}", flush=True)

    seconds, rss, result = audit(planted)
    lines = [
        f"RESULT audit store={args.store} objects={total} seconds={seconds:.1f} "
        f"objects_per_s={total / seconds:.0f} peak_rss_mib={rss:.0f} "
        f"heads={result['retention_heads']} rehashed={result['masters_rehashed']} "
        f"shards={settings.audit_shards} sample_percent={settings.audit_retention_sample_percent:g}"
    ]
    print(lines[-1], flush=True)
    if args.old_method:  # the next run's findings are the same faults
        os.environ["DAILIES_AUDIT_RETENTION_SAMPLE_PERCENT"] = "100"
        reset_clients()
        _never_verified(planted["checksum_mismatch"])
        seconds, rss, result = audit(planted)
        lines.append(
            f"RESULT audit-head-every-object store={args.store} objects={total} "
            f"seconds={seconds:.1f} objects_per_s={total / seconds:.0f} peak_rss_mib={rss:.0f} "
            f"heads={result['retention_heads']}"
        )
        print(lines[-1], flush=True)
    after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    body = "\n".join(
        [
            f"{total} masters (small locked objects and their SQLite rows) on {args.store}, "
            f"seeded in {seed_s:.0f} s ({args.objects / seed_s:.0f} masters/s, "
            f"{args.seed_concurrency} PUTs in flight); planted: a delete marker, a shortened "
            "retention, a rewritten master, an orphan; every run found exactly those four.",
            "",
            "```",
            *lines,
            "```",
            "",
            f"- load before seeding: `{load}`",
            f"- load after the audit: `{after}`",
            f"- settings: {settings.audit_shards} shards, listing pages of "
            f"{settings.audit_list_page_size}, catalog pages and HEAD batches of "
            f"{settings.audit_batch_size}, HEAD concurrency {settings.audit_head_concurrency}",
        ]
    )
    if not args.no_write:
        from results import write_section

        write_section(f"audit ({args.store}, {total} masters)", body)
    print(body)


if __name__ == "__main__":
    main()
