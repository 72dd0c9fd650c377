"""Revocation that bites (issue 25, item 5). The attack that found it: a token revoked with
`dailies keys revoke` kept working at the API for the auth cache's TTL (≈2.5 s seen, 5 s
configured), though the CLI said "401 from then on". Here the cache's TTL is a minute, so
only the revocation mark (dailies/revocations.py) can make the refusal immediate: two API
processes, each with the token's lookup cached, both refuse it on the first request after
the CLI returns. Through Redis (a fleet) and through the file under DAILIES_HOME (one
machine without Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving import api_processes

DAILIES = str(Path(sys.executable).parent / "dailies")


@pytest.fixture(params=["redis", "file"])
def mark_env(request: pytest.FixtureRequest, stack: Any, tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DAILIES_AUTH_CACHE_TTL_S": "60",
        "DAILIES_PREVIEW_FIRST_RENDITION": "false",
    }
    if request.param == "file":
        env.pop("DAILIES_REDIS_URL", None)
        env["DAILIES_HOME"] = str(tmp_path / "home")  # the one machine's shared home
    return env


@pytest.fixture
def two_apis(mark_env: dict[str, str], tmp_path: Path) -> Iterator[list[str]]:
    with api_processes(mark_env, tmp_path) as urls:
        yield urls


def _status(url: str, token: str) -> int:
    """An editor's read (of a master nobody promoted: 404 once the token is accepted)."""
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{url}/api/masters/{'0' * 64}", headers=headers, timeout=30).status_code


def test_a_revoked_token_is_refused_at_once_by_every_api_process(
    two_apis: list[str], mark_env: dict[str, str], stack: Any
) -> None:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    with session_scope(stack) as session:
        key, token = api_keys.create_key(session, "editor", name="to-revoke")
        key_id = key.id
    assert [_status(url, token) for url in two_apis] == [404, 404]  # now cached in both

    revoked = subprocess.run(
        [DAILIES, "keys", "revoke", str(key_id)],
        env=mark_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    assert "refused by the API from now on" in revoked.stdout
    assert revoked.stderr == ""  # the API processes were told

    assert [_status(url, token) for url in two_apis] == [401, 401]
