"""Nobody acts on what is not theirs: uploads have owners, only presigned and completed keys
are promoted, assets are repointed by their owner, part URLs come in pages, and a failed
promotion is not re-run (and re-hashed) at once."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.api.conftest import _client
from tests.api.test_promotions import execute_run, promote
from tests.api.test_uploads import put_parts, start, upload_file


@pytest.fixture
def other_editor(api_url: str, stack: Any) -> Iterator[httpx.Client]:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    with session_scope(stack) as session:
        _, token = api_keys.create_key(session, "editor", "another editor")
    with _client(api_url, token) as client:
        yield client


def test_only_the_owner_or_an_admin_completes_or_aborts_an_upload(
    editor: httpx.Client, other_editor: httpx.Client, admin: httpx.Client
) -> None:
    data = os.urandom(1000)
    upload = start(editor, len(data))
    parts = put_parts(upload, data)
    body = {"key": upload["key"], "parts": parts}
    complete = f"/api/uploads/{upload['upload_id']}/complete"

    refused = other_editor.post(complete, json=body)
    assert refused.status_code == 403 and "another editor" in refused.json()["detail"]
    abort = f"/api/uploads/{upload['upload_id']}?key={upload['key']}"
    assert other_editor.delete(abort).status_code == 403
    more = f"/api/uploads/{upload['upload_id']}/parts"
    assert other_editor.post(more, json={"key": upload["key"], "first": 1}).status_code == 403

    assert editor.post(complete, json=body).status_code == 200  # the owner's upload is intact
    second = start(editor, 10)
    admin_abort = f"/api/uploads/{second['upload_id']}?key={second['key']}"
    assert admin.delete(admin_abort).status_code == 204


def test_a_key_nobody_presigned_cannot_be_promoted(
    editor: httpx.Client, s3: Any, stack: Any
) -> None:
    data = os.urandom(2048)
    rogue = f"uploads/{os.urandom(16).hex()}/rogue.mp4"
    s3.put_object(Bucket=stack.staging_bucket, Key=rogue, Body=data)
    response = promote(editor, rogue, hashlib.sha256(data).hexdigest())
    assert response.status_code == 404
    assert "only keys POST /api/uploads issued" in response.json()["detail"]


def test_an_upload_not_yet_completed_cannot_be_promoted(editor: httpx.Client) -> None:
    upload = start(editor, 1000)
    response = promote(editor, upload["key"], "a" * 64)
    assert response.status_code == 422 and "complete it" in response.json()["detail"]


def test_another_editor_cannot_promote_or_repoint_what_is_not_theirs(
    editor: httpx.Client, other_editor: httpx.Client, admin: httpx.Client
) -> None:
    data = os.urandom(4096)
    sha = hashlib.sha256(data).hexdigest()
    key = upload_file(editor, data)
    assert promote(other_editor, key, sha).status_code == 403  # someone else's upload

    asset = f"SHOT-{sha[:8]}"
    run_id = promote(editor, key, sha, asset={"asset_id": asset}).json()["flow_run_id"]
    execute_run(run_id)
    assert editor.get(f"/api/promotions/{run_id}").json()["state"] == "completed"

    theirs = os.urandom(4096)
    their_key = upload_file(other_editor, theirs)
    their_sha = hashlib.sha256(theirs).hexdigest()
    repoint = promote(other_editor, their_key, their_sha, asset={"asset_id": asset})
    assert repoint.status_code == 403 and asset in repoint.json()["detail"]
    # The owner's promotion may repoint it; so may an admin.
    assert promote(admin, their_key, their_sha, asset={"asset_id": asset}).status_code == 202


def test_part_urls_come_in_pages(editor: httpx.Client, api_settings: Any) -> None:
    # The largest upload these tests allow: hundreds of parts (1 TiB would be 10,000: 4.4 MB
    # of answer and seconds of CPU when every URL came at once).
    size = api_settings.max_upload_bytes
    upload = start(editor, size)
    page = api_settings.upload_parts_page
    assert upload["part_count"] > page
    # The first answer holds one page of URLs, whatever the part count: what keeps it cheap
    # (a count, unlike a duration, no load on the box can change).
    assert len(upload["parts"]) == page and upload["next_part_number"] == page + 1
    more = editor.post(
        f"/api/uploads/{upload['upload_id']}/parts",
        json={"key": upload["key"], "first": upload["part_count"] - 2},
    )
    assert more.status_code == 200, more.text
    numbers = [p["part_number"] for p in more.json()["parts"]]
    assert numbers == [upload["part_count"] - 2, upload["part_count"] - 1, upload["part_count"]]
    assert more.json()["next_part_number"] is None
    past = {"key": upload["key"], "first": upload["part_count"] + 1}
    assert editor.post(f"/api/uploads/{upload['upload_id']}/parts", json=past).status_code == 422


def _failed_attempts(stack: Any, key: str) -> int:
    from dailies.clients import session_scope
    from dailies.db import masters

    with session_scope(stack) as session:
        return masters.failed_attempts(session, key, "0" * 64)[0]


def test_a_failed_promotion_backs_off_before_the_same_request_hashes_again(
    editor: httpx.Client, stack: Any
) -> None:
    from dailies.clients import session_scope
    from dailies.db.models import PromotionAttempt

    key = upload_file(editor, os.urandom(1000))
    wrong = "0" * 64
    first = promote(editor, key, wrong).json()["flow_run_id"]
    execute_run(first)
    assert editor.get(f"/api/promotions/{first}").json()["state"] == "failed"
    # The attempt row is the flow's failure hook's, written just after the run is Failed (by
    # whichever process ran it: the session's worker may have taken it): wait for it.
    deadline = time.monotonic() + 60
    while not _failed_attempts(stack, key) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _failed_attempts(stack, key) == 1

    again = promote(editor, key, wrong)
    assert again.status_code == 429
    assert 1 <= int(again.headers["Retry-After"]) <= stack.promotion_retry_base_s

    with session_scope(stack) as session:  # as if the wait had passed
        session.execute(
            update(PromotionAttempt)
            .where(PromotionAttempt.staging_key == key)
            .values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )
    retried = promote(editor, key, wrong)
    assert retried.status_code == 202 and retried.json()["flow_run_id"] != first
    assert promote(editor, key, "1" * 64).status_code == 202  # another claim is not held back
