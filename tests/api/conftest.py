"""API fixtures: the app served by a real uvicorn on a free port, tokens per role, the
deployments the API launches, and masters rows to trigger previews for."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.serving import serve as serve_app

MiB = 1024**2
DEPLOYMENTS = {
    # flow name: [(deployment name, work pool, entrypoint)]
    "promote-master": [("promote-master", "cpu", "flows/promote.py:promote_master")],
    "build-preview": [
        ("preview-gpu", "gpu", "flows/preview.py:build_preview"),
        ("preview-cpu", "cpu", "flows/preview.py:build_preview"),
    ],
}


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn; a deep backlog for the 500-request bursts."""
    with serve_app(app, backlog=2048, timeout_keep_alive=30) as url:
        yield url


def dead_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _register_deployments() -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    async with get_client() as client:
        for pool in ("gpu", "cpu"):
            with suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        for flow_name, deployments in DEPLOYMENTS.items():
            flow_id = await client.create_flow_from_name(flow_name)
            for name, pool, entrypoint in deployments:
                await client.create_deployment(
                    flow_id=flow_id, name=name, work_pool_name=pool, entrypoint=entrypoint
                )


@pytest.fixture(scope="session")
def deployments(stack: Any, request: pytest.FixtureRequest) -> None:
    """The deployments the API launches: the lead's `deployed` fixture when it exists,
    else registered here (runs stay Scheduled without a worker, enough for triggers)."""
    try:
        request.getfixturevalue("deployed")
    except pytest.FixtureLookupError:
        asyncio.run(_register_deployments())


@pytest.fixture(scope="session")
def api_settings(stack: Any) -> Any:
    # Small parts so a test file spans several; a modest maximum keeps presigned part
    # lists (and schemathesis) quick.
    return stack.model_copy(
        update={
            "upload_part_bytes": 5 * MiB,
            "max_upload_bytes": 2 * 1024 * MiB,
            "auth_cache_ttl_s": 1.0,  # revocation tests wait this long
            # These test the API: no first renditions queued for masters that exist only as
            # rows (a task worker started later would first work through them all).
            "preview_first_rendition": False,
        }
    )


@pytest.fixture(scope="session")
def api_url(api_settings: Any, deployments: None) -> Iterator[str]:
    from api.app import create_app

    with serve(create_app(api_settings)) as url:
        yield url


@pytest.fixture
def store_api_url(store: str, api_url: str, api_settings: Any) -> Iterator[str]:
    """The API on the test's store (tests/stores.py): the session's app for moto; for RGW an
    app of its own for this test, made while this process is on RGW's keys."""
    if store == "moto":
        yield api_url
        return
    from api.app import create_app
    from dailies.settings import get_settings

    on_store = api_settings.model_copy(update={"s3_endpoint_url": get_settings().s3_endpoint_url})
    with serve(create_app(on_store)) as url:
        yield url


@pytest.fixture
def store_editor(store_api_url: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    with _client(store_api_url, tokens["editor"]) as client:
        yield client


@pytest.fixture(scope="session")
def tokens(stack: Any) -> dict[str, str]:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    made = {}
    with session_scope(stack) as session:
        for role in api_keys.ROLES:
            _, made[role] = api_keys.create_key(session, role, name=f"tests-{role}")
    return made


@contextmanager
def _client(url: str, token: str | None) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def reviewer(api_url: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    with _client(api_url, tokens["reviewer"]) as client:
        yield client


@pytest.fixture
def editor(api_url: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    with _client(api_url, tokens["editor"]) as client:
        yield client


@pytest.fixture
def admin(api_url: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    with _client(api_url, tokens["admin"]) as client:
        yield client


@pytest.fixture
def anonymous(api_url: str) -> Iterator[httpx.Client]:
    with _client(api_url, None) as client:
        yield client


def insert_master(settings: Any, preview: dict[str, Any] | None = None) -> str:
    """A masters row for a random sha (no object needed to trigger its preview)."""
    from dailies.clients import session_scope
    from dailies.db.models import Master, Preview

    sha = secrets.token_hex(32)
    with session_scope(settings) as session:
        session.add(
            Master(
                sha256=sha,
                size_bytes=1,
                masters_key=sha,
                version_id="v1",
                etag='"e"',
                retention_mode="GOVERNANCE",
                retain_until=datetime.now(UTC) + timedelta(days=1),
                source_staging_key=f"uploads/{secrets.token_hex(16)}/clip.mov",
            )
        )
        session.flush()
        if preview is not None:
            session.add(Preview(sha256=sha, **{"attempts": 0, **preview}))
    return sha


@pytest.fixture
def master_sha(stack: Any) -> str:
    return insert_master(stack)
