"""First playback through real parts: the session's stack and cpu worker (tests/conftest.py),
the API served by uvicorn, the nginx edge in front of both, Debian's headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.processes import Service, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    # A review page starts playing by itself; headless has no user to click play.
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def edge_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def e2e_settings(stack: Any, edge_port: int) -> Any:
    # Polling at 1 s (the API's retry_after) keeps the browser close to the first playlist.
    return stack.model_copy(
        update={"preview_retry_after_s": 1, "edge_url": f"http://127.0.0.1:{edge_port}"}
    )


@pytest.fixture(scope="session")
def e2e_api(e2e_settings: Any, deployed: Any) -> Iterator[str]:
    """`api.app` under uvicorn on a free port, in a thread of this process."""
    from api.app import create_app
    from tests.serving import serve

    with serve(create_app(e2e_settings), access_log=False) as url:
        yield url


@pytest.fixture(scope="session")
def edge(
    e2e_settings: Any, e2e_api: str, edge_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The nginx edge: previews from the bucket, /api/ to the API, the player page."""
    from ops.edge import start_edge

    run_dir = tmp_path_factory.mktemp("e2e-edge")
    service = start_edge(
        e2e_settings, port=edge_port, api_upstream=e2e_api, run_dir=run_dir, log_dir=run_dir
    )
    yield service
    service.stop()


@pytest.fixture(scope="session")
def reviewer_token(stack: Any) -> str:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    with session_scope(stack) as session:
        return api_keys.create_key(session, "reviewer", "e2e-player")[1]


@pytest.fixture(scope="module")
def browser(deployed: Any) -> Iterator[Any]:
    # playwright's sync API runs an event loop in this thread while it is open, and Prefect's
    # sync-or-async calls (Block.save, run_deployment, State.result) turn into never-awaited
    # coroutines there: so start it after `deployed` and close it with the module, before
    # later modules call Prefect from this thread.
    if not CHROMIUM.exists():
        # Never a silent skip: a run without the browser proves nothing about playback.
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (or make sync)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield instance
        instance.close()
