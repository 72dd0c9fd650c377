"""The integrity audit against planted faults, on real S3 (moto, and Ceph RGW where marked),
Postgres and Prefect."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from dailies.clients import s3_client, session_scope
from dailies.db.models import AuditFinding, AuditRun, Master
from flows.audit import audit_masters
from flows.promote import promote_master
from tests.isolation import isolated_stack
from tests.staging import random_bytes, stage_bytes
from tests.store_proxy import store_behind_proxy
from tests.stores import both_stores


@pytest.fixture
def audit_stack(store, monkeypatch):  # type: ignore[no-untyped-def]
    # GOVERNANCE so the test can shorten a retention behind the catalog's back
    with isolated_stack(monkeypatch, DAILIES_RETENTION_MODE="GOVERNANCE") as s:
        yield s


def _promote(settings, n):  # type: ignore[no-untyped-def]
    s3 = s3_client(settings)
    shas = []
    for _ in range(n):
        key, sha = stage_bytes(s3, settings, random_bytes(32 * 1024))
        shas.append(promote_master(key, sha)["sha256"])
    return shas


def test_clean_bucket_has_zero_findings_and_marks_masters_verified(audit_stack) -> None:  # type: ignore[no-untyped-def]
    shas = _promote(audit_stack, 3)

    state = audit_masters(return_state=True)

    assert state.is_completed(), state.message
    result = state.result()
    assert result["objects_checked"] == 3
    assert result["bytes_hashed"] == 3 * 32 * 1024
    assert set(result["findings"].values()) == {0}
    with session_scope() as session:
        rows = session.scalars(select(Master).where(Master.sha256.in_(shas))).all()
        assert all(r.last_verified_ok and r.last_verified_at for r in rows)
        run = session.get(AuditRun, result["audit_run_id"])
        assert run.status == "clean"


@both_stores
def test_planted_faults_are_each_reported_once_with_their_kind(audit_stack) -> None:  # type: ignore[no-untyped-def]
    settings = audit_stack
    s3 = s3_client(settings)
    bucket = settings.masters_bucket
    deleted, wrong_size, rewritten, shortened, clean = _promote(settings, 5)

    s3.delete_object(Bucket=bucket, Key=deleted)  # a delete marker hides it
    orphan = hashlib.sha256(b"orphan").hexdigest()
    s3.put_object(Bucket=bucket, Key=orphan, Body=b"orphan")
    with session_scope() as session:
        session.execute(update(Master).where(Master.sha256 == wrong_size).values(size_bytes=1))
        retain = session.get(Master, rewritten).retain_until
    tampered = random_bytes(32 * 1024)  # same size, other content, retention intact
    s3.put_object(
        Bucket=bucket,
        Key=rewritten,
        Body=tampered,
        ContentMD5=base64.b64encode(hashlib.md5(tampered).digest()).decode(),
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=retain,
    )
    s3.put_object_retention(
        Bucket=bucket,
        Key=shortened,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)},
        BypassGovernanceRetention=True,
    )

    state = audit_masters(return_state=True)

    assert state.is_failed()
    assert "5 finding(s)" in state.message
    with session_scope() as session:
        run = session.scalars(select(AuditRun).order_by(AuditRun.id.desc())).first()
        found = {
            (f.kind, f.key)
            for f in session.scalars(select(AuditFinding).where(AuditFinding.run_id == run.id))
        }
        assert found == {
            ("missing", deleted),
            ("orphaned", orphan),
            ("size_mismatch", wrong_size),
            ("checksum_mismatch", rewritten),
            ("retention_lapsed", shortened),
        }
        assert run.findings_by_kind == {
            "missing": 1,
            "orphaned": 1,
            "size_mismatch": 1,
            "checksum_mismatch": 1,
            "retention_lapsed": 1,
        }
        assert session.get(Master, rewritten).last_verified_ok is False
        assert session.get(Master, clean).last_verified_ok is True

    artifacts, events = _artifacts_and_events(state.state_details.flow_run_id, deleted)
    assert {a.key for a in artifacts} == {"masters-audit-summary", "masters-audit-findings"}
    table = next(a for a in artifacts if a.key == "masters-audit-findings")
    assert len(json.loads(table.data)) == 5
    # one event per critical finding (missing, checksum, retention), for automations
    assert {e.event for e in events} == {
        "dailies.audit.missing",
        "dailies.audit.checksum_mismatch",
        "dailies.audit.retention_lapsed",
    }


def _artifacts_and_events(flow_run_id, deleted_sha):  # type: ignore[no-untyped-def]
    """This run's artifacts, and the events of this audit run (found via the deleted master)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.events.filters import EventFilter, EventNameFilter

    from ops.processes import drain_prefect_clients

    drain_prefect_clients()
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        # A failure bound only (the server persists events asynchronously): the loop ends as
        # soon as the three events are there.
        deadline = time.monotonic() + 120
        events: list = []  # type: ignore[type-arg]
        while len(events) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            page = client.read_events(
                EventFilter(event=EventNameFilter(prefix=["dailies.audit."])), limit=50
            )
            run_ids = {
                e.payload["audit_run_id"] for e in page.events if deleted_sha in e.resource.id
            }
            events = [e for e in page.events if e.payload.get("audit_run_id") in run_ids]
    return artifacts, events


def test_cli_audit_exits_nonzero_and_names_the_finding(audit_stack) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from ops.cli import app

    s3 = s3_client(audit_stack)
    orphan = hashlib.sha256(b"stray").hexdigest()
    s3.put_object(Bucket=audit_stack.masters_bucket, Key=orphan, Body=b"stray")

    outcome = CliRunner().invoke(app, ["audit"])

    assert outcome.exit_code == 1
    assert "| orphaned | 1 |" in outcome.output and orphan in outcome.output


# --- more than one listing page, batch and re-hash batch ---

PAGE = 1000  # ListObjectVersions answers at most 1000 versions a page (S3, moto)
BODY = 1024
NEVER_VERIFIED = 70  # the re-hash budget's worth: 70.5 objects' bytes


@pytest.fixture
def paged_audit_stack(stack, monkeypatch):  # type: ignore[no-untyped-def]
    """HEADs in batches of 300, so re-hashes in batches of 30; a re-hash budget of 70.5
    objects that a year's rotation (1 MiB / 365 days) does not raise."""
    with isolated_stack(
        monkeypatch,
        DAILIES_RETENTION_MODE="GOVERNANCE",
        DAILIES_AUDIT_BATCH_SIZE="300",
        DAILIES_AUDIT_REHASH_BUDGET_BYTES=str(NEVER_VERIFIED * BODY + BODY // 2),
        DAILIES_AUDIT_REVERIFY_DAYS="365",
    ) as s:
        yield s


def _seed_masters(settings, bodies: dict[str, bytes], never_verified: set[str]) -> None:  # type: ignore[no-untyped-def]
    """Masters as promotion leaves them (a locked object under its sha256, a row), put
    directly: a thousand promotions would take minutes. `bodies` maps key to content."""
    s3 = s3_client(settings)
    # whole seconds: the store keeps none finer, and a lock earlier than the row's is a finding
    retain = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    def put(item: tuple[str, bytes]) -> None:
        key, body = item
        s3.put_object(
            Bucket=settings.masters_bucket, Key=key, Body=body,
            ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode(),
            ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=retain,
        )  # fmt: skip

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, bodies.items()))
    verified_at = datetime.now(UTC) - timedelta(days=1)
    with session_scope() as session:
        session.add_all(
            Master(
                sha256=key, size_bytes=BODY, masters_key=key, version_id=None,
                retention_mode="GOVERNANCE", retain_until=retain,
                source_staging_key=f"uploads/seeded/{key}",
                last_verified_at=None if key in never_verified else verified_at,
            )
            for key in bodies
        )  # fmt: skip


def _task_runs(flow_run_id, last: str) -> Counter[str]:  # type: ignore[no-untyped-def]
    """Task runs per task of one flow run, once its `last` task's final state is recorded
    (task states reach the server as events, a moment after the flow returns)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            names = Counter(r.task_key.rsplit("-", 1)[0] for r in runs)
            settled = [r for r in runs if r.task_key.startswith(last) and r.state.is_final()]
            if settled or time.monotonic() > deadline:
                return names
            time.sleep(0.5)


def test_an_audit_over_two_pages_and_several_batches_sees_each_object_once(
    paged_audit_stack,
) -> None:  # type: ignore[no-untyped-def]
    settings = paged_audit_stack
    bodies = {hashlib.sha256(b := random_bytes(BODY)).hexdigest(): b for _ in range(PAGE + 5)}
    keys = sorted(bodies)
    size_mismatch, tampered = keys[0], keys[-1]  # first page; last page, last re-hash batch
    never = set(keys[-NEVER_VERIFIED:])  # oldest-verified first: these are re-hashed
    bodies[tampered] = random_bytes(BODY)  # same size, content that is not its address
    orphan = "f" * 64  # sorts last: on the second page
    _seed_masters(settings, bodies, never)
    missing = hashlib.sha256(b"never uploaded").hexdigest()
    s3_client(settings).put_object(Bucket=settings.masters_bucket, Key=orphan, Body=b"orphan")
    with session_scope() as session:
        session.execute(update(Master).where(Master.sha256 == size_mismatch).values(size_bytes=1))
        session.add(Master(sha256=missing, size_bytes=BODY, masters_key=missing, version_id=None,
                           retention_mode="GOVERNANCE", retain_until=datetime.now(UTC),
                           source_staging_key="uploads/seeded/missing"))  # fmt: skip

    with store_behind_proxy(settings) as (_, recorded):
        state = audit_masters(return_state=True)

    assert state.is_failed(), state.message
    result = state.result(raise_on_failure=False)
    assert result["objects_checked"] == len(keys) + 2  # and the orphan and the missing one
    assert result["findings"] == {"missing": 1, "orphaned": 1, "size_mismatch": 1,
                                  "checksum_mismatch": 1, "retention_lapsed": 0}  # fmt: skip
    with session_scope() as session:
        run = session.get(AuditRun, result["audit_run_id"])
        found = {(f.kind, f.key) for f in session.scalars(
            select(AuditFinding).where(AuditFinding.run_id == run.id))}  # fmt: skip
    assert found == {("missing", missing), ("orphaned", orphan),
                     ("size_mismatch", size_mismatch), ("checksum_mismatch", tampered)}  # fmt: skip

    # what reached the store: two listing pages, the second after the first's last key;
    # one HEAD per listed master the diff did not flag, one GET per master re-hashed
    bucket = f"/{settings.masters_bucket}"
    listings = [p for m, p, _ in recorded.seen if m == "GET" and p.startswith(f"{bucket}?")]
    assert len(listings) == 2 and "key-marker=" in listings[1], listings
    objects = Counter((m, p.split("?")[0].removeprefix(f"{bucket}/"))
                      for m, p, _ in recorded.seen if p.startswith(f"{bucket}/"))  # fmt: skip
    heads = {k: n for (m, k), n in objects.items() if m == "HEAD"}
    gets = {k: n for (m, k), n in objects.items() if m == "GET"}
    assert heads == {k: 1 for k in keys if k != size_mismatch}
    # the budget: 70 objects (the 71st would pass it), each read once
    assert gets == {k: 1 for k in never}
    assert result["bytes_hashed"] == NEVER_VERIFIED * BODY <= settings.audit_rehash_budget_bytes
    assert result["masters_rehashed"] == NEVER_VERIFIED

    batches = _task_runs(state.state_details.flow_run_id, last="publish_audit")
    assert (batches["check_retention_batch"], batches["rehash_batch"]) == (4, 3)  # 1003/300, 70/30
