"""Issue 25, items 1 and 2: an editor reaches no asset that is not theirs, checked where the
write happens. Found by a probe of a running stack: B attached documents to A's asset, and B
repointed A's asset by promoting to the same id while A's promotion was still queued."""

from __future__ import annotations

import hashlib
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.conftest import admin, insert_master, reviewer  # noqa: F401 - fixtures
from tests.api.test_documents import attach, key_id, make_asset
from tests.api.test_promotions import promote
from tests.api.test_upload_ownership import other_editor  # noqa: F401 - fixture
from tests.api.test_uploads import upload_file
from tests.faults.runs import wait_final

NOTES = {"filename": "notes.pdf", "size_bytes": 12, "content_type": "application/pdf"}


def _documents_of(stack: Any, asset_id: str) -> list[str]:
    from sqlalchemy import select

    from dailies.clients import session_scope
    from dailies.db.models import Document

    with session_scope(stack) as session:
        rows = session.scalars(select(Document.document_id).where(Document.asset_id == asset_id))
        return list(rows)


def test_attaching_a_document_to_another_editors_asset_is_403(
    editor: httpx.Client,
    other_editor: httpx.Client,  # noqa: F811 - fixture
    admin: httpx.Client,  # noqa: F811 - fixture
    reviewer: httpx.Client,  # noqa: F811 - fixture
    stack: Any,
) -> None:
    asset_id, sha = make_asset(stack, editor)

    refused = other_editor.post(f"/api/assets/{asset_id}/documents", json=NOTES)
    assert refused.status_code == 403, refused.text
    assert refused.json() == {
        "detail": f"asset {asset_id!r} belongs to another editor: only its owner (or an admin) "
        "attaches documents to it"
    }
    # Refused before anything was made: no pending row, and no URL to PUT an object with.
    assert _documents_of(stack, asset_id) == []

    mine = attach(editor, asset_id, b"%PDF-1.4 ok")  # the owner: 201, then ready
    assert mine["state"] == "ready"
    by_admin = admin.post(f"/api/assets/{asset_id}/documents", json=NOTES)
    assert by_admin.status_code == 201, by_admin.text
    listed = reviewer.get(f"/api/masters/{sha}/documents").json()["documents"]
    assert [d["document_id"] for d in listed] == [mine["document_id"]]


def _asset(stack: Any, asset_id: str) -> tuple[int | None, str] | None:
    """(owner key, master sha) of an asset row, or None."""
    from dailies.clients import session_scope
    from dailies.db.models import Asset

    with session_scope(stack) as session:
        row = session.get(Asset, asset_id)
        return (row.owner_key_id, row.master_sha256) if row is not None else None


def _attempts(stack: Any, flow_run_id: str) -> list[tuple[str, str | None]]:
    from sqlalchemy import select

    from dailies.clients import session_scope
    from dailies.db.models import PromotionAttempt

    with session_scope(stack) as session:
        rows = session.execute(
            select(PromotionAttempt.outcome, PromotionAttempt.reason).where(
                PromotionAttempt.flow_run_id == flow_run_id
            )
        )
        return [(outcome, reason) for outcome, reason in rows]


def _link_alone(stack: Any, link: Any, sha: str) -> bool:
    from dailies.clients import session_scope
    from dailies.db import masters

    with session_scope(stack) as session:
        return masters.link_asset(session, link, sha)


def test_a_link_waiting_on_another_editors_uncommitted_link_is_refused(stack: Any) -> None:
    """The interleaving the probe won, held open: A's link is written but not committed when
    B's arrives. B's upsert waits for A's transaction, then compares against A's row."""
    from dailies.clients import session_scope
    from dailies.db import masters
    from dailies.promotion_rules import AssetLink

    asset_id = f"RACE_{secrets.token_hex(4)}"
    a_sha, b_sha = insert_master(stack), insert_master(stack)
    a_link, b_link = AssetLink(asset_id, {}, 9001, False), AssetLink(asset_id, {}, 9002, False)
    with ThreadPoolExecutor(1) as pool:
        with session_scope(stack) as first:
            assert masters.link_asset(first, a_link, a_sha)
            second = pool.submit(_link_alone, stack, b_link, b_sha)
            with pytest.raises(TimeoutError):  # blocked on A's row, whatever the load
                second.result(timeout=1)
        assert second.result(timeout=60) is False  # A committed: refused
    assert _asset(stack, asset_id) == (9001, a_sha)
    # The owner repoints it, and so does an admin's promotion; the owner stays A.
    assert _link_alone(stack, a_link, b_sha) and _asset(stack, asset_id) == (9001, b_sha)
    admins = AssetLink(asset_id, {}, 9003, repoints_any=True)
    assert _link_alone(stack, admins, a_sha) and _asset(stack, asset_id) == (9001, a_sha)


@pytest.mark.slow
def test_racing_a_queued_promotion_cannot_repoint_another_editors_asset(
    editor: httpx.Client,
    other_editor: httpx.Client,  # noqa: F811 - fixture
    cpu_worker: Any,
    stack: Any,
) -> None:
    """The probe's attack: A promotes to RACE_n, B promotes its own upload to the same id while
    A's run is queued. Both pass the API's check (the asset does not exist yet) and both runs
    go to the session's cpu worker, each in a process of its own, side by side. Whoever links
    first keeps the asset, pointing at their own master; the other run fails saying why, its
    master promoted all the same (content is nobody's), one attempt row saying what happened."""
    asset_id = f"RACE_{secrets.token_hex(4)}"
    editors = {"A": editor, "B": other_editor}
    datas = {name: os.urandom(4096) for name in editors}
    shas = {name: hashlib.sha256(data).hexdigest() for name, data in datas.items()}
    keys = {name: upload_file(client, datas[name]) for name, client in editors.items()}
    runs = {}
    for name, client in editors.items():  # B's right after A's: A's run is still queued
        started = promote(client, keys[name], shas[name], asset={"asset_id": asset_id})
        assert started.status_code == 202, started.text
        runs[name] = started.json()["flow_run_id"]
    for run_id in runs.values():
        wait_final(run_id, 240)

    from dailies.clients import session_scope

    with session_scope(stack) as session:
        owners = {key_id(session, client): name for name, client in editors.items()}
    found = _asset(stack, asset_id)
    assert found is not None and found[0] in owners, found
    winner = owners[found[0]]
    loser = "B" if winner == "A" else "A"
    assert found[1] == shas[winner]  # owned by the first to link, and pointing at theirs

    won = editor.get(f"/api/promotions/{runs[winner]}").json()
    assert won["state"] == "completed" and won["result"]["sha256"] == shas[winner], won
    lost = editor.get(f"/api/promotions/{runs[loser]}").json()
    reason = (
        f"asset {asset_id!r} belongs to another editor: not linked; master "
        f"{shas[loser][:12]} was promoted all the same (link it under an asset id of your own)"
    )
    assert lost["state"] == "failed" and reason in lost["error"], lost
    assert "\n" not in lost["error"]
    assert _attempts(stack, runs[loser]) == [("link_refused", reason)]
    assert _attempts(stack, runs[winner]) == [("promoted", None)]
    their_master = editors[loser].get(f"/api/masters/{shas[loser]}").json()
    assert their_master["assets"] == [] and their_master["sha256"] == shas[loser]
