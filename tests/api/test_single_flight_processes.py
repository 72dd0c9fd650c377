"""Single-flight across API processes: two `uvicorn api.app:app` processes behind one Redis,
a storm split between them, exactly one flow run (threads in one process would share
memory and prove nothing about the Redis claim)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import insert_master
from tests.api.test_single_flight import assert_one_run
from tests.serving import api_processes


@pytest.fixture
def two_apis(stack: Any, deployments: None, tmp_path: Path) -> Iterator[list[str]]:
    # Row-only masters: no first renditions queued (see api_settings in conftest).
    env = {**os.environ, "DAILIES_PREVIEW_FIRST_RENDITION": "false"}
    with api_processes(env, tmp_path) as urls:
        yield urls


def test_a_storm_split_across_two_api_processes_makes_one_flow_run(
    two_apis: list[str], tokens: dict[str, str], stack: Any
) -> None:
    sha = insert_master(stack)

    async def storm() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        clients = [
            httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120)
            for url in two_apis
        ]
        try:
            posts = [
                client.post("/api/preview", json={"sha": sha})
                for _ in range(100)
                for client in clients  # interleaved: both processes race from the start
            ]
            return await asyncio.gather(*posts)
        finally:
            for client in clients:
                await client.aclose()

    responses = asyncio.run(storm())
    assert len(responses) == 200
    assert_one_run(responses, sha)
