"""Promotions through the API: launch, idempotency, retry after failure, status, masters."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from typing import Any

import httpx
import pytest

from tests.api.prefect_helpers import read_run
from tests.api.test_uploads import MiB, upload_file


def execute_run(flow_run_id: str, timeout_s: float = 240) -> None:
    """Run a scheduled flow run here and now, as a worker would (no worker needed). The
    run is claimed first, as a worker claims it (Scheduled → Pending, which Prefect grants
    once): when the session's cpu worker polls the same pool and took it first, wait for
    its end instead. Run twice, its second run could leave it Running after it had failed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.flow_engine import run_flow
    from prefect.states import Pending

    from flows.promote import promote_master

    async def claim() -> tuple[bool, Any]:
        async with get_client() as client:
            result = await client.set_flow_run_state(uuid.UUID(flow_run_id), Pending())
            return result.status == SetStateStatus.ACCEPT, await client.read_flow_run(
                uuid.UUID(flow_run_id)
            )

    claimed, run = asyncio.run(claim())
    if claimed:
        run_flow(promote_master, flow_run=run, parameters=run.parameters, return_type="state")
        return
    from tests.faults.runs import wait_final

    wait_final(flow_run_id, timeout_s)


def promote(editor: httpx.Client, key: str, sha: str, **extra: Any) -> httpx.Response:
    return editor.post("/api/promotions", json={"staging_key": key, "sha256": sha, **extra})


def test_upload_promote_and_read_status(editor: httpx.Client, stack: Any) -> None:
    data = os.urandom(6 * MiB + 7)
    sha = hashlib.sha256(data).hexdigest()
    key = upload_file(editor, data)

    started = promote(editor, key, sha.upper(), asset={"asset_id": f"clip-{sha[:8]}"})
    assert started.status_code == 202, started.text
    run_id = started.json()["flow_run_id"]
    assert started.json()["sha256"] == sha
    assert promote(editor, key, sha).json()["flow_run_id"] == run_id  # same request, same run
    assert read_run(run_id).name == f"promote-{sha[:12]}"  # named from birth, not at its start

    status = editor.get(f"/api/promotions/{run_id}")
    assert status.status_code == 200 and status.json()["state"] in {"scheduled", "pending"}

    execute_run(run_id)
    done = editor.get(f"/api/promotions/{run_id}").json()
    assert done["state"] == "completed", done
    assert done["result"]["sha256"] == sha and done["result"]["status"] == "promoted"
    assert done["result"]["size_bytes"] == len(data)

    master = editor.get(f"/api/masters/{sha}")
    assert master.status_code == 200
    assert master.json()["assets"] == [f"clip-{sha[:8]}"]
    assert master.json()["source_staging_key"] == key
    assert master.json()["preview_status"] == "missing"
    _assert_is_the_catalog_row(stack, master.json())


def _assert_is_the_catalog_row(stack: Any, body: dict[str, Any]) -> None:
    """GET /api/masters/{sha}: the masters row's columns in this order (times as Python's
    isoformat writes them), then the assets and the preview's status."""
    from dailies.clients import session_scope
    from dailies.db.models import Master

    with session_scope(stack) as session:
        row = session.get(Master, body["sha256"])
        assert row is not None
        columns = ["sha256", "size_bytes", "masters_key", "version_id", "etag", "retention_mode"]
        expected: dict[str, Any] = {name: getattr(row, name) for name in columns}
        expected |= {
            "retain_until": row.retain_until.isoformat(),
            "source_staging_key": row.source_staging_key,
            "promoted_at": row.promoted_at.isoformat(),
            "last_verified_at": None,
        }
    assert list(body) == [*expected, "assets", "preview_status"]
    assert {name: body[name] for name in expected} == expected


def test_failed_promotion_reports_why(editor: httpx.Client) -> None:
    data = os.urandom(1000)
    key = upload_file(editor, data)
    wrong = "0" * 64
    first = promote(editor, key, wrong).json()["flow_run_id"]
    execute_run(first)
    failed = editor.get(f"/api/promotions/{first}").json()
    assert failed["state"] == "failed"
    assert "sha256 mismatch" in failed["error"]
    assert "result" not in failed
    # Re-posting it backs off: tests/api/test_upload_ownership.py


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"staging_key": "uploads/" + "0" * 32 + "/a.mov", "sha256": "xyz"}, 422),
        ({"staging_key": "masters/abc", "sha256": "a" * 64}, 422),
        ({"staging_key": "uploads/../masters/a.mov", "sha256": "a" * 64}, 422),
        ({"staging_key": "uploads/x/a.mov", "sha256": "a" * 64}, 422),
        ({"staging_key": "uploads/" + "0" * 32 + "/a.mov", "sha256": "a" * 64}, 404),
        (
            {
                "staging_key": "uploads/" + "0" * 32 + "/a.mov",
                "sha256": "a" * 64,
                "asset": {"asset_id": 5},
            },
            422,
        ),
        ({"sha256": "a" * 64}, 422),
    ],
)
def test_promotion_refusals(editor: httpx.Client, body: dict[str, Any], status: int) -> None:
    response = editor.post("/api/promotions", json=body)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_status_of_unknown_or_foreign_runs_is_404(editor: httpx.Client) -> None:
    assert editor.get(f"/api/promotions/{uuid.uuid4()}").status_code == 404
    assert editor.get("/api/promotions/not-a-uuid").status_code == 422


def test_unknown_master_is_404_and_malformed_sha_422(editor: httpx.Client) -> None:
    assert editor.get(f"/api/masters/{'b' * 64}").status_code == 404
    assert editor.get("/api/masters/xyz").status_code == 422
