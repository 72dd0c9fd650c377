"""Keyset pages over the API: an audit run's findings (admin) and the masters catalog
(editor), each row once, in order, whatever the page size."""

from __future__ import annotations

from typing import Any

import httpx

from dailies.clients import session_scope
from dailies.db.models import AuditFinding, AuditRun
from tests.api.conftest import insert_master


def _audit_run(settings: Any, findings: int) -> tuple[int, list[int]]:
    with session_scope(settings) as session:
        run = AuditRun(status="findings", findings_by_kind={"orphaned": findings})
        session.add(run)
        session.flush()
        rows = [
            AuditFinding(
                run_id=run.id,
                kind="orphaned",
                key=f"{i:064x}",
                sha256=None,
                detail=f"{i} bytes with no catalog row",
                critical=False,
            )  # fmt: skip
            for i in range(findings)
        ]
        session.add_all(rows)
        session.flush()
        return run.id, [r.id for r in rows]


def test_an_admin_pages_through_every_finding_of_a_run_once(
    admin: httpx.Client, stack: Any
) -> None:
    run_id, ids = _audit_run(stack, 250)
    _audit_run(stack, 3)  # another run's findings are not this run's

    seen: list[int] = []
    after = 0
    pages = 0
    while after is not None:
        page = admin.get(f"/api/audits/{run_id}/findings", params={"after": after, "limit": 100})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["run_id"] == run_id and body["findings_by_kind"] == {"orphaned": 250}
        seen += [f["id"] for f in body["findings"]]
        after = body["next_after"]
        pages += 1
    assert seen == ids and pages == 3  # 100, 100, 50
    first = admin.get(f"/api/audits/{run_id}/findings", params={"limit": 1}).json()
    assert first["findings"] == [
        {"id": ids[0], "kind": "orphaned", "key": "0" * 64, "sha256": None,
         "detail": "0 bytes with no catalog row", "critical": False}
    ]  # fmt: skip


def test_findings_are_for_admins_and_bounded(
    admin: httpx.Client, editor: httpx.Client, anonymous: httpx.Client, stack: Any
) -> None:
    run_id, _ = _audit_run(stack, 1)
    assert editor.get(f"/api/audits/{run_id}/findings").status_code == 403
    assert anonymous.get(f"/api/audits/{run_id}/findings").status_code == 401
    assert admin.get("/api/audits/2147483647/findings").status_code == 404
    for params in ({"limit": 0}, {"limit": 1001}, {"after": -1}):
        assert admin.get(f"/api/audits/{run_id}/findings", params=params).status_code == 422


def test_masters_list_in_keyset_pages_each_row_once(
    editor: httpx.Client, reviewer: httpx.Client, stack: Any
) -> None:
    mine = {insert_master(stack) for _ in range(5)}
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 7, **({"after": after} if after else {})}
        body = editor.get("/api/masters", params=params).json()
        seen += [m["sha256"] for m in body["masters"]]
        assert len(body["masters"]) <= 7
        after = body["next_after"]
        if after is None:
            break
    assert seen == sorted(set(seen)) and mine <= set(seen)
    assert reviewer.get("/api/masters").status_code == 403
    assert editor.get("/api/masters", params={"limit": 1001}).status_code == 422
