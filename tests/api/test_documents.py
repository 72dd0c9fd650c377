"""Documents attached to assets: editors PUT them straight to the docs bucket through a
presigned URL; the API records their sha256 from the bytes; reviewers list and open them
through short-lived presigned GETs; nobody else does."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.conftest import insert_master, serve


def make_asset(settings: Any, owner: httpx.Client) -> tuple[str, str]:
    """A master row and an asset pointing at it, owned by `owner`'s key (as its promotion
    would have linked it): (asset_id, sha256)."""
    from dailies.clients import session_scope
    from dailies.db.models import Asset

    sha = insert_master(settings)
    asset_id = f"shot-{secrets.token_hex(4)}"
    with session_scope(settings) as session:
        owner_key_id = key_id(session, owner)
        session.add(
            Asset(asset_id=asset_id, master_sha256=sha, attributes={}, owner_key_id=owner_key_id)
        )
    return asset_id, sha


def key_id(session: Any, client: httpx.Client) -> int:
    """The API key behind a client's bearer token."""
    from dailies.db import api_keys

    token = client.headers["Authorization"].removeprefix("Bearer ")
    found = api_keys.find_active_key(session, token)
    assert found is not None
    return int(found.id)


def attach(
    editor: httpx.Client, asset_id: str, data: bytes, content_type: str = "application/pdf",
    filename: str = "call sheet.pdf", sha256: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Start, PUT and complete a document as an editor's client would; the completion."""
    body = {"filename": filename, "size_bytes": len(data), "content_type": content_type}
    if sha256:
        body["sha256"] = sha256
    started = editor.post(f"/api/assets/{asset_id}/documents", json=body)
    assert started.status_code == 201, started.text
    upload = started.json()
    put = httpx.put(upload["url"], content=data, headers=upload["headers"])
    assert put.status_code == 200, put.text
    return editor.post(f"/api/documents/{upload['document_id']}/complete").json()


def test_editor_attaches_and_reviewer_opens_a_document(
    editor: httpx.Client, reviewer: httpx.Client, anonymous: httpx.Client, stack: Any
) -> None:
    asset_id, sha = make_asset(stack, editor)
    data = b"%PDF-1.4 call sheet " + os.urandom(2000)
    done = attach(editor, asset_id, data)
    assert done["state"] == "ready"
    assert done["sha256"] == hashlib.sha256(data).hexdigest()  # from the bytes in the bucket

    listed = reviewer.get(f"/api/masters/{sha}/documents").json()["documents"]
    assert [d["document_id"] for d in listed] == [done["document_id"]]
    assert reviewer.get(f"/api/assets/{asset_id}/documents").json()["documents"] == listed

    link = open_link(reviewer, done["document_id"], stack.docs_open_expiry_s)
    fetched = httpx.get(link["url"])
    assert fetched.content == data
    assert fetched.headers["content-type"] == "application/pdf"

    # no token, or a made-up one: nothing listed, nothing opened
    assert anonymous.get(f"/api/masters/{sha}/documents").status_code == 401
    assert anonymous.get(f"/api/documents/{done['document_id']}").status_code == 401
    with httpx.Client(base_url=str(reviewer.base_url)) as stranger:
        stranger.headers["Authorization"] = "Bearer dly_made-up"
        assert stranger.get(f"/api/documents/{done['document_id']}").status_code == 401


def open_link(reviewer: httpx.Client, document_id: str, expiry_s: int) -> dict[str, Any]:
    """GET the document's link; its URL and `expires_at` both last exactly `expiry_s`."""
    before = datetime.now(UTC)
    opened = reviewer.get(f"/api/documents/{document_id}")
    after = datetime.now(UTC)
    assert opened.status_code == 200, opened.text
    link: dict[str, Any] = opened.json()
    assert int(parse_qs(urlsplit(link["url"]).query)["X-Amz-Expires"][0]) == expiry_s
    expires_at = datetime.fromisoformat(link["expires_at"])
    lifetime = timedelta(seconds=expiry_s)
    assert before + lifetime <= expires_at <= after + lifetime, (before, expires_at, after)
    return link


def test_the_open_link_lasts_docs_open_expiry_s_120_by_default(
    editor: httpx.Client, reviewer: httpx.Client, api_settings: Any, monkeypatch: Any
) -> None:
    from api.app import create_app
    from dailies.settings import Settings

    monkeypatch.delenv("DAILIES_DOCS_OPEN_EXPIRY_S", raising=False)
    assert Settings().docs_open_expiry_s == 120  # the README's figure
    asset_id, _ = make_asset(api_settings, editor)
    document_id = attach(editor, asset_id, b"camera report")["document_id"]
    open_link(reviewer, document_id, 120)  # the session's API, on the default
    # Another lifetime set: the link follows the setting, not a constant that equals it.
    with serve(create_app(api_settings.model_copy(update={"docs_open_expiry_s": 45}))) as url:
        reviewer.base_url = httpx.URL(url)
        open_link(reviewer, document_id, 45)


def test_reviewers_may_not_attach_documents(
    reviewer: httpx.Client, editor: httpx.Client, stack: Any
) -> None:
    asset_id, _ = make_asset(stack, editor)
    body = {"filename": "notes.txt", "size_bytes": 10, "content_type": "text/plain"}
    assert reviewer.post(f"/api/assets/{asset_id}/documents", json=body).status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"filename": "x.exe", "size_bytes": 10, "content_type": "application/x-msdownload"},
         422, "not accepted"),
        ({"filename": "big.pdf", "size_bytes": 10**12, "content_type": "application/pdf"},
         413, "at most"),
    ],
)  # fmt: skip
def test_document_limits(
    editor: httpx.Client, stack: Any, body: dict[str, Any], status: int, words: str
) -> None:
    asset_id, _ = make_asset(stack, editor)
    answer = editor.post(f"/api/assets/{asset_id}/documents", json=body)
    assert answer.status_code == status and words in answer.json()["detail"], answer.text


def test_unknown_asset_is_404(editor: httpx.Client) -> None:
    body = {"filename": "a.pdf", "size_bytes": 10, "content_type": "application/pdf"}
    answer = editor.post("/api/assets/no-such-shot/documents", json=body)
    assert answer.status_code == 404


def test_bytes_that_differ_from_the_declaration_are_refused_and_deleted(
    editor: httpx.Client, reviewer: httpx.Client, s3: Any, stack: Any
) -> None:
    asset_id, sha = make_asset(stack, editor)
    declared = hashlib.sha256(b"the real call sheet").hexdigest()
    body = {"filename": "c.pdf", "size_bytes": 19, "content_type": "application/pdf",
            "sha256": declared}  # fmt: skip
    upload = editor.post(f"/api/assets/{asset_id}/documents", json=body).json()
    httpx.put(upload["url"], content=b"a forged call sheet", headers=upload["headers"])
    refused = editor.post(f"/api/documents/{upload['document_id']}/complete")
    assert refused.status_code == 422 and "sha256" in refused.json()["detail"]
    assert s3.list_objects_v2(Bucket=stack.docs_bucket, Prefix=upload["key"])["KeyCount"] == 0
    assert reviewer.get(f"/api/documents/{upload['document_id']}").status_code == 404
    assert reviewer.get(f"/api/masters/{sha}/documents").json()["documents"] == []
