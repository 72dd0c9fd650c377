"""Bearer tokens, roles that nest, revocation, and `dailies keys`."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dailies.db.models import ApiKey
from ops.cli import app as cli

SHA = "a" * 64


def test_no_token_is_401_with_challenge(anonymous: httpx.Client) -> None:
    response = anonymous.get(f"/api/preview/{SHA}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer dly_" + "x" * 43, "Basic abc", "Bearer"])
def test_bad_token_is_401(api_url: str, header: str) -> None:
    response = httpx.get(f"{api_url}/api/preview/{SHA}", headers={"Authorization": header})
    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/uploads", {"filename": "a.mov", "size_bytes": 1}),
        ("POST", "/api/uploads/" + "0" * 32 + "/complete", {"key": "k", "parts": []}),
        ("DELETE", "/api/uploads/" + "0" * 32 + "?key=k", None),
        ("POST", "/api/promotions", {"staging_key": "uploads/x/y", "sha256": SHA}),
        ("GET", "/api/promotions/00000000-0000-0000-0000-000000000000", None),
        ("GET", f"/api/masters/{SHA}", None),
    ],
)
def test_reviewer_cannot_use_editor_routes(
    reviewer: httpx.Client, method: str, path: str, body: Any
) -> None:
    response = reviewer.request(method, path, json=body)
    assert response.status_code == 403, response.text
    assert "editor" in response.json()["detail"]


def test_roles_nest(reviewer: httpx.Client, editor: httpx.Client, admin: httpx.Client) -> None:
    for client in (reviewer, editor, admin):  # reviewer routes: everyone
        assert client.get(f"/api/preview/{SHA}").status_code == 404
    for client in (editor, admin):  # editor routes: editor and admin
        assert client.get(f"/api/masters/{SHA}").status_code == 404


def test_cli_key_is_stored_hashed_and_revocable(api_url: str, db_session: Any) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--role", "editor", "--name", "cli-test"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()  # the token alone on stdout (a note goes to stderr)
    assert token.startswith("dly_")

    stored = db_session.scalars(select(ApiKey).where(ApiKey.name == "cli-test")).one()
    # README: "stored as sha256 hashes": the hex sha256 of the token, computed here on our
    # own (not by the module under test), and only a 12-character prefix kept to show.
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.prefix == token[:12] and stored.role == "editor"

    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{api_url}/api/masters/{SHA}", headers=headers).status_code == 404

    revoked = runner.invoke(cli, ["keys", "revoke", stored.prefix])
    assert revoked.exit_code == 0, revoked.output
    # Token lookups are cached for auth_cache_ttl_s (1 s in these tests); the deadline is
    # only a failure timeout, against a revocation that never takes.
    deadline = time.monotonic() + 30
    while httpx.get(f"{api_url}/api/masters/{SHA}", headers=headers).status_code != 401:
        assert time.monotonic() < deadline, "revoked token still accepted"
        time.sleep(0.2)
    listed = runner.invoke(cli, ["keys", "list"])
    assert stored.prefix in listed.output and token not in listed.output


def test_cli_refuses_unknown_role() -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--role", "root"])
    assert result.exit_code == 2
