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
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select, update

from dailies.audit_rules import in_retention_sample, plan_shards, sample_period
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
    # GOVERNANCE so the test can shorten a retention behind the catalog's back; every master
    # HEADed (a 100 % sample), so the shortened one is found whatever the day
    with isolated_stack(
        monkeypatch,
        DAILIES_RETENTION_MODE="GOVERNANCE",
        DAILIES_AUDIT_RETENTION_SAMPLE_PERCENT="100",
    ) as s:
        yield s


def _run_name(flow_run_id: Any) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return str(client.read_flow_run(flow_run_id).name)


def _promote(settings, n):  # type: ignore[no-untyped-def]
    s3 = s3_client(settings)
    shas = []
    for _ in range(n):
        key, sha = stage_bytes(s3, settings, random_bytes(32 * 1024))
        shas.append(promote_master(key, sha)["sha256"])
    return shas


def test_clean_bucket_has_zero_findings_and_marks_masters_verified(audit_stack) -> None:  # type: ignore[no-untyped-def]
    shas = _promote(audit_stack, 3)

    started = datetime.now(UTC)
    state = audit_masters(return_state=True)

    assert state.is_completed(), state.message
    name = _run_name(state.state_details.flow_run_id)
    assert name in {f"audit-{t:%Y-%m-%d-%H%M}" for t in (started, datetime.now(UTC))}, name
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
        run_id = run.id
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

    critical = {
        f"dailies.master.{deleted}": "dailies.audit.missing",
        f"dailies.master.{rewritten}": "dailies.audit.checksum_mismatch",
        f"dailies.master.{shortened}": "dailies.audit.retention_lapsed",
    }
    artifacts, events = _artifacts_and_events(state.state_details.flow_run_id, set(critical))
    assert {a.key for a in artifacts} == {"masters-audit-summary", "masters-audit-findings"}
    table = next(a for a in artifacts if a.key == "masters-audit-findings")
    assert len(json.loads(table.data)) == 5
    # one event per critical finding (missing, checksum, retention), for automations, and
    # each on its master
    assert sorted((e.resource.id, e.event) for e in events) == sorted(critical.items())
    assert {e.payload["audit_run_id"] for e in events} == {run_id}


def _artifacts_and_events(flow_run_id, resource_ids):  # type: ignore[no-untyped-def]
    """This run's artifacts, and the audit events on these masters' resources."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    from ops.processes import drain_prefect_clients

    drain_prefect_clients()
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        # A failure bound only (the server persists events asynchronously): the loop ends as
        # soon as an event is there for each master. Filtered on those masters, not on a page
        # of every audit event the session's server holds.
        deadline = time.monotonic() + 120
        events: list = []  # type: ignore[type-arg]
        while {e.resource.id for e in events} != resource_ids and time.monotonic() < deadline:
            time.sleep(0.5)
            events = client.read_events(
                EventFilter(
                    event=EventNameFilter(prefix=["dailies.audit."]),
                    resource=EventResourceFilter(id=sorted(resource_ids)),
                ),
                limit=50,
            ).events
    return artifacts, events


def test_cli_audit_exits_nonzero_and_names_the_finding(audit_stack) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from ops.cli import app

    s3 = s3_client(audit_stack)
    orphan = hashlib.sha256(b"stray").hexdigest()
    s3.put_object(Bucket=audit_stack.masters_bucket, Key=orphan, Body=b"stray")

    outcome = CliRunner().invoke(app, ["audit", "--local"])

    assert outcome.exit_code == 1
    assert "| orphaned | 1 |" in outcome.output and orphan in outcome.output


# --- shards, listing pages, batches and re-hash batches ---

BODY = 1024
NEVER_VERIFIED = 70  # the re-hash budget's worth: 70.5 objects' bytes
LIST_PAGE = 20  # keys a ListObjectVersions page: ~63 keys a shard, so 3 to 5 pages each
SAMPLE_PERCENT = 10
PERIOD = sample_period(SAMPLE_PERCENT)  # a HEAD for each master every 10 nights
NEAR_DAYS = 7


@pytest.fixture
def paged_audit_stack(stack, monkeypatch):  # type: ignore[no-untyped-def]
    """16 shards, listing pages of 20 keys, re-hashes in batches of 30; a re-hash budget
    of 70.5 objects that a year's rotation (1 MiB / 365 days) does not raise."""
    with isolated_stack(
        monkeypatch,
        DAILIES_RETENTION_MODE="GOVERNANCE",
        DAILIES_AUDIT_SHARDS="16",
        DAILIES_AUDIT_LIST_PAGE_SIZE=str(LIST_PAGE),
        DAILIES_AUDIT_BATCH_SIZE="300",
        DAILIES_AUDIT_REHASH_BUDGET_BYTES=str(NEVER_VERIFIED * BODY + BODY // 2),
        DAILIES_AUDIT_REVERIFY_DAYS="365",
        DAILIES_AUDIT_RETENTION_SAMPLE_PERCENT=str(SAMPLE_PERCENT),
        DAILIES_AUDIT_RETENTION_NEAR_DAYS=str(NEAR_DAYS),
    ) as s:
        yield s


def _seed_masters(settings, bodies: dict[str, bytes], never_verified: set[str]) -> datetime:  # type: ignore[no-untyped-def]
    """Masters as promotion leaves them (a locked object under its sha256, a row), put
    directly: a thousand promotions would take minutes. `bodies` maps key to content.
    Returns their retain-until."""
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
    return retain


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


def _shorten(settings, key: str, until: datetime) -> None:  # type: ignore[no-untyped-def]
    s3_client(settings).put_object_retention(
        Bucket=settings.masters_bucket, Key=key,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
        BypassGovernanceRetention=True,
    )  # fmt: skip


def _listings(seen, bucket: str) -> tuple[dict[str, list[dict[str, str]]], list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    """Each ListObjectVersions request's query under its shard's prefix, and the
    ListObjectsV2 requests (the strays between the prefixes)."""
    by_prefix: dict[str, list[dict[str, str]]] = {s.prefix: [] for s in plan_shards(16)}
    strays = []
    for method, path, _ in seen:
        if method != "GET" or not path.startswith(f"/{bucket}?"):
            continue
        query = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        if "versions" in query:
            by_prefix[query["prefix"]].append(query)
        elif query.get("list-type") == "2":
            strays.append(query)
    return by_prefix, strays


def test_a_sharded_audit_over_many_pages_and_batches_sees_each_object_once(
    paged_audit_stack,
) -> None:  # type: ignore[no-untyped-def]
    settings = paged_audit_stack
    bodies = {hashlib.sha256(b := random_bytes(BODY)).hexdigest(): b for _ in range(1005)}
    keys = sorted(bodies)
    size_mismatch, tampered = keys[0], keys[-1]  # the first shard; the last re-hash batch
    never = set(keys[-NEVER_VERIFIED:])  # oldest-verified first: these are re-hashed
    bodies[tampered] = random_bytes(BODY)  # same size, content that is not its address
    orphan = "f" * 64  # sorts last: the last shard's last page
    stray = "README"  # under no shard's prefix: found between them
    retain = _seed_masters(settings, bodies, never)
    missing = hashlib.sha256(b"never uploaded").hexdigest()
    for key in (orphan, stray):
        s3_client(settings).put_object(Bucket=settings.masters_bucket, Key=key, Body=b"orphan")
    today = datetime.now(UTC).date()
    ordinary = keys[1:-NEVER_VERIFIED]
    # Shortened retentions, the catalog none the wiser: one whose recorded retention ends
    # within NEAR_DAYS (HEADed every night), and two far from their end, one in tonight's
    # sample and one in tomorrow's (the audit may start after midnight): only the one in
    # the audit's sample is found; the other is found on its night (the rotation's test).
    near = ordinary[0]
    sampled_today = next(k for k in ordinary[1:] if in_retention_sample(k, today, PERIOD))
    sampled_tomorrow = next(
        k for k in ordinary[1:] if in_retention_sample(k, today + timedelta(days=1), PERIOD)
    )
    _shorten(settings, near, retain - timedelta(days=27))
    _shorten(settings, sampled_today, retain - timedelta(days=2))
    _shorten(settings, sampled_tomorrow, retain - timedelta(days=2))
    near_until = retain - timedelta(days=26)  # 4 days from now, later than the store's
    with session_scope() as session:
        session.execute(update(Master).where(Master.sha256 == size_mismatch).values(size_bytes=1))
        session.execute(update(Master).where(Master.sha256 == near).values(retain_until=near_until))
        session.add(Master(sha256=missing, size_bytes=BODY, masters_key=missing, version_id=None,
                           retention_mode="GOVERNANCE", retain_until=datetime.now(UTC),
                           source_staging_key="uploads/seeded/missing"))  # fmt: skip

    with store_behind_proxy(settings) as (_, recorded):
        state = audit_masters(return_state=True)

    assert state.is_failed(), state.message
    result = state.result(raise_on_failure=False)
    day = datetime.fromisoformat(result["retention_day"]).date()
    assert day in {today, today + timedelta(days=1)}
    found_far = sampled_today if day == today else sampled_tomorrow
    assert result["objects_checked"] == len(keys) + 3  # and the orphans and the missing one
    assert result["findings"] == {"missing": 1, "orphaned": 2, "size_mismatch": 1,
                                  "checksum_mismatch": 1, "retention_lapsed": 2}  # fmt: skip
    with session_scope() as session:
        run = session.get(AuditRun, result["audit_run_id"])
        found = {(f.kind, f.key) for f in session.scalars(
            select(AuditFinding).where(AuditFinding.run_id == run.id))}  # fmt: skip
    assert found == {("missing", missing), ("orphaned", orphan), ("orphaned", stray),
                     ("size_mismatch", size_mismatch), ("checksum_mismatch", tampered),
                     ("retention_lapsed", near), ("retention_lapsed", found_far)}  # fmt: skip

    # Each shard lists its prefix in pages of LIST_PAGE keys, each page after the last one
    # (several pages a shard: the merge crosses page boundaries); the three gaps between the
    # prefixes (before 0, between 9 and a, after f) take a ListObjectsV2 request each.
    bucket = settings.masters_bucket
    by_prefix, strays = _listings(recorded.seen, bucket)
    listed = [*keys, orphan]
    for prefix, queries in by_prefix.items():
        pages = -(-sum(k.startswith(prefix) for k in listed) // LIST_PAGE)
        assert pages <= len(queries) <= pages + 1 and len(queries) >= 3, (prefix, len(queries))
        assert {q["max-keys"] for q in queries} == {str(LIST_PAGE)}
        assert "key-marker" not in queries[0]
        assert all(q["key-marker"].startswith(prefix) for q in queries[1:])
    assert [q.get("start-after") for q in strays] == [None, "9\U0010ffff", "f\U0010ffff"]

    # One HEAD for each master due tonight (recorded retention near its end, tonight's
    # rolling sample) and each re-hashed one, never two; one GET per master re-hashed.
    objects = Counter((m, p.split("?")[0].removeprefix(f"/{bucket}/"))
                      for m, p, _ in recorded.seen if p.startswith(f"/{bucket}/"))  # fmt: skip
    heads = {k: n for (m, k), n in objects.items() if m == "HEAD"}
    gets = {k: n for (m, k), n in objects.items() if m == "GET"}
    sample = {k for k in keys if in_retention_sample(k, day, PERIOD)} - {size_mismatch}
    assert 40 <= len(sample) <= 170  # about 10 % of 1005
    assert heads == {k: 1 for k in sample | {near} | never}
    assert result["retention_heads"] == len(sample | {near})
    # the budget: 70 objects (the 71st, or the never-verified missing one, would pass it)
    assert gets == {k: 1 for k in never}
    assert result["bytes_hashed"] == NEVER_VERIFIED * BODY <= settings.audit_rehash_budget_bytes
    assert result["masters_rehashed"] == NEVER_VERIFIED

    batches = _task_runs(state.state_details.flow_run_id, last="publish_audit")
    assert (batches["audit_shard"], batches["rehash_batch"]) == (16, 3)  # 70/30 re-hashes
