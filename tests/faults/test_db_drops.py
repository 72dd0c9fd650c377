"""Postgres drops the flow's connection mid-transaction (pg_terminate_backend, as a failover
or an idle-connection reaper does): in the promotion's masters-row transaction and in the
preview's ready-row transaction. The transaction rolls back whole, the step is retried
(Transient), and the end state holds no half row: one masters row, one attempt, one ready
preview.

To be sure of "mid-transaction", the test holds a lock the flow's transaction needs part-way
through, and terminates the backend once it waits on it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from sqlalchemy import select

from dailies.clients import session_scope
from dailies.db.models import Asset, PromotionAttempt
from dailies.runs import promotion_key_base, sha_tag
from tests.faults.conftest import PROMOTE, SCRATCH, FaultWorker
from tests.faults.flaky_s3 import FlakyS3
from tests.faults.outcome import leftovers, master_problems, wait_for
from tests.faults.previewing import (
    assert_recovered,
    final_states,
    promoted_clip,
    trigger,
    until_ready,
)
from tests.faults.report import FaultTable
from tests.faults.runs import launch, wait_final
from tests.prefect_runs import task_retries
from tests.test_promote_large import _stage_file

pytestmark = [pytest.mark.slow, pytest.mark.faults]


@pytest.fixture
def pg() -> Iterator[psycopg.Connection[Any]]:
    """A connection of the test's own to the session's database."""
    url = os.environ["DAILIES_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        yield conn


def _waiting_backend(pg: psycopg.Connection[Any], like: str) -> int | None:
    """A backend (not ours) of this database waiting on a lock, running a query like `like`."""
    with psycopg.connect(pg.info.dsn, autocommit=True) as watcher:
        row = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> %s AND wait_event_type = 'Lock' AND query ILIKE %s",
            (pg.info.backend_pid, like),
        ).fetchone()
    return int(row[0]) if row else None


def _terminate(pg: psycopg.Connection[Any], pid: int) -> float:
    with psycopg.connect(pg.info.dsn, autocommit=True) as admin:
        row = admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
    assert row is not None and row[0] is True, f"backend {pid} not terminated"
    return time.monotonic()


def test_connection_dropped_mid_masters_row_transaction_promotes_once(
    worker: FaultWorker, pg: psycopg.Connection[Any], stack: Any, s3: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    key, sha = _stage_file(s3, stack, tmp_path, 4 * 1024 * 1024)
    # The attempt row is written after the masters row and the asset link, in one
    # transaction: holding its table stops the transaction with those two written.
    pg.execute("LOCK TABLE promotion_attempts IN ACCESS EXCLUSIVE MODE")
    params = {"staging_key": key, "sha256": sha, "asset": {"asset_id": f"SHOT_{sha[:8]}"}}
    run_id = launch(
        f"{PROMOTE[0]}/{PROMOTE[1]}", params, promotion_key_base(sha, key),
        ["promote", sha_tag(sha)],
    )  # fmt: skip
    pid = wait_for(
        "the masters-row transaction waits on promotion_attempts",
        lambda: _waiting_backend(pg, "INSERT INTO promotion_attempts%"), 150, 0.05,
    )  # fmt: skip
    killed_at = _terminate(pg, pid)
    pg.rollback()  # the lock goes; the retried transaction can commit

    done = wait_final(run_id, 120)
    recovery_s = time.monotonic() - killed_at
    assert done.state is not None and done.state.is_completed(), done.state
    assert task_retries(UUID(run_id), "record_promotion")["record_promotion"] >= 1
    assert master_problems(stack, sha) == []
    with session_scope(stack) as session:
        attempts = session.scalars(
            select(PromotionAttempt.outcome).where(PromotionAttempt.sha256 == sha)
        ).all()
        assets = session.scalars(select(Asset.master_sha256).where(Asset.master_sha256 == sha))
        assert (sorted(attempts), list(assets)) == (["promoted"], [sha])
    left = leftovers(SCRATCH, stack, sha)
    assert left == []
    fault_table.add(
        "6a postgres (promote)",
        "pg_terminate_backend mid masters-row transaction (row + asset written, attempt next)",
        recovery_s, "promoted once; no half row (task retried)", left,
    )  # fmt: skip


def test_connection_dropped_mid_ready_row_transaction_ends_ready(
    worker: FaultWorker, store: FlakyS3, pg: psycopg.Connection[Any], fault_api: httpx.Client,
    stack: Any, tmp_path: Path, fault_table: FaultTable,
) -> None:  # fmt: skip
    sha = promoted_clip(stack, tmp_path, "pgdrop.mp4", seconds=6)
    # The MP4's upload comes after the ladder's last progress write: from there on, the
    # ready-row transaction is the only writer of the row.
    mp4 = store.hold(
        lambda method, path, _: (
            method == "PUT" and path.split("?")[0].endswith(f"/{sha}/preview.mp4")
        )
    )
    run_id = trigger(fault_api, sha)["flow_run_id"]
    assert mp4.wait(150), "the build never uploaded its MP4"
    # Held until the flow's ready-row transaction has begun and waits for it.
    pg.execute("SELECT 1 FROM previews WHERE sha256 = %s FOR UPDATE", (sha,))
    mp4.release()
    pid = wait_for(
        "the ready-row transaction waits on the row",
        lambda: _waiting_backend(pg, "%previews%"), 120, 0.05,
    )  # fmt: skip
    killed_at = _terminate(pg, pid)
    pg.rollback()

    recovery_s = until_ready(fault_api, sha, 120) - killed_at
    assert task_retries(UUID(run_id), "record_ready")["record_ready"] >= 1
    # the same run recovered: no relaunch, no crash
    assert final_states(sha) == ["COMPLETED"]
    left = assert_recovered(stack, sha)
    fault_table.add(
        "6b postgres (preview)", "pg_terminate_backend mid ready-row transaction",
        recovery_s, "ready; no half row (task retried)", left,
    )  # fmt: skip
