"""The audit's and the API's catalog queries are index-backed at scale: each query the code
runs is captured as it runs and EXPLAINed by Postgres over tens of thousands of rows, with
fresh statistics (ANALYZE) and the planner free to choose (enable_seqscan stays on). On a
table this size a range or keyset query without a usable index plans as a Seq Scan (or on
another index): each test asserts no Seq Scan on the big tables and names the index it needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from dailies.audit_rules import CatalogEntry, Shard
from dailies.clients import engine, session_scope
from dailies.db import audits, masters
from tests.isolation import isolated_stack

MASTERS = 60_000
OLD_FINDINGS = 60_000  # an old run's findings: the table is big, tonight's run is small
BIG_TABLES = {"masters", "audit_findings"}


@pytest.fixture(scope="module")
def big_catalog(stack) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    monkeypatch = pytest.MonkeyPatch()
    with isolated_stack(monkeypatch) as settings:
        with session_scope() as session:
            session.execute(text("""
                INSERT INTO masters (sha256, size_bytes, masters_key, retention_mode,
                                     retain_until, source_staging_key, last_verified_at)
                SELECT h, 1024, h, 'COMPLIANCE', now() + interval '300 days', 'uploads/x/' || i,
                       CASE WHEN i % 10 = 0 THEN NULL
                            ELSE now() - (i % 97) * interval '1 day' END
                FROM (SELECT i, encode(sha256(i::text::bytea), 'hex') AS h
                      FROM generate_series(1, :n) AS i) AS s
            """), {"n": MASTERS})  # fmt: skip
            old = audits.open_run(session, None)
            tonight = audits.open_run(session, None)
            session.execute(text("""
                INSERT INTO audit_findings (run_id, kind, key, sha256, detail, critical,
                                            created_at)
                SELECT CASE WHEN i <= 20 THEN :tonight ELSE :old END, 'missing',
                       encode(sha256(i::text::bytea), 'hex'), NULL, 'x', true, now()
                FROM generate_series(1, :n) AS i
            """), {"n": OLD_FINDINGS + 20, "old": old, "tonight": tonight})  # fmt: skip
        with engine(settings).connect() as conn:
            conn.execute(text("ANALYZE masters"))
            conn.execute(text("ANALYZE audit_findings"))
            conn.commit()
        yield {"settings": settings, "old": old, "tonight": tonight}
    monkeypatch.undo()


@contextmanager
def _captured(settings: Any) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs the code sends, with their parameters, as the driver receives them."""
    statements: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    bound = engine(settings)
    event.listen(bound, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(bound, "before_cursor_execute", keep)


def _plan_nodes(settings: Any, statement: str, parameters: Any) -> list[dict[str, Any]]:
    with engine(settings).connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    nodes, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo += node.get("Plans", [])
    return nodes


def _assert_index_backed(settings: Any, statements: list[tuple[str, Any]], *indexes: str) -> None:
    """No Seq Scan on a big table, and one of `indexes` read, in every statement's plan."""
    assert statements, "the code ran no query"
    for statement, parameters in statements:
        nodes = _plan_nodes(settings, statement, parameters)
        scans = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes]
        seq = [s for s in scans if s[0] == "Seq Scan" and s[1] in BIG_TABLES]
        assert not seq, (statement, scans)
        assert set(indexes) & {s[2] for s in scans}, (statement, scans)


@pytest.mark.parametrize("after_key", [None, "7" + "8" * 63])
def test_the_audits_catalog_pages_read_the_key_index(big_catalog, after_key) -> None:  # type: ignore[no-untyped-def]
    settings = big_catalog["settings"]
    with _captured(settings) as statements, session_scope() as session:
        page = audits.catalog_page(session, Shard("7"), after_key, 1000)
    assert page and all(e.key.startswith("7") for e in page)
    assert page == sorted(page, key=lambda e: e.key)
    _assert_index_backed(settings, statements, "ix_masters_masters_key")


def test_the_rehash_order_reads_the_verification_index(big_catalog) -> None:  # type: ignore[no-untyped-def]
    settings, tonight = big_catalog["settings"], big_catalog["tonight"]
    with session_scope() as session:
        ordered = audits.rehash_page(session, tonight, None, MASTERS)
    last_never = [e for e in ordered if e.last_verified_at is None][-1]
    dated = CatalogEntry("5" * 64, "5" * 64, 1, "COMPLIANCE", datetime.now(UTC),
                         datetime(2000, 1, 1, tzinfo=UTC))  # fmt: skip
    with _captured(settings) as statements, session_scope() as session:
        audits.rehash_page(session, tonight, None, 1000)  # the never-verified ones
        audits.rehash_page(session, tonight, last_never, 1000)  # from NULLs into the dated
        audits.rehash_page(session, tonight, dated, 1000)  # the dated ones
    assert len(statements) == 4
    _assert_index_backed(settings, statements, "ix_masters_last_verified_at_sha256")


def test_a_runs_findings_page_reads_the_run_index(big_catalog) -> None:  # type: ignore[no-untyped-def]
    """Tonight's 20 findings among 60,000 of an older run: the (run_id, id) index. The old
    run's own pages may as well walk the primary key (it is nearly the whole table), but
    never the table itself."""
    settings, old, tonight = big_catalog["settings"], big_catalog["old"], big_catalog["tonight"]
    with _captured(settings) as statements, session_scope() as session:
        assert len(audits.findings_page(session, tonight, 0, 1000)) == 20
    _assert_index_backed(settings, statements, "ix_audit_findings_run_id_id")
    with _captured(settings) as statements, session_scope() as session:
        first = audits.findings_page(session, old, 0, 1000)
        audits.findings_page(session, old, first[-1].id + 30_000, 1000)
    _assert_index_backed(settings, statements, "ix_audit_findings_run_id_id", "audit_findings_pkey")


def test_the_masters_list_pages_on_the_primary_key(big_catalog) -> None:  # type: ignore[no-untyped-def]
    settings = big_catalog["settings"]
    with _captured(settings) as statements, session_scope() as session:
        first = masters.masters_page(session, None, 100)
        masters.masters_page(session, first[-1].sha256, 100)
        masters.masters_page(session, "c" * 64, 100)
    _assert_index_backed(settings, statements, "masters_pkey")
