"""A real nginx edge in front of moto and of the real API, with a counting reverse proxy
before each so the tests see every request that reaches the origin (and can make it answer
like AWS does) and every request the edge forwarded to the API. The player files are the
real ones in edge/player/."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from dailies.clients import s3_client
from dailies.settings import Settings, get_settings
from ops.bootstrap import create_buckets
from ops.edge import start_edge
from ops.processes import Service, free_port
from tests.api.conftest import api_settings, api_url, deployments, tokens  # noqa: F401 - fixtures
from tests.edge.counting_origin import Origin, counting_proxy
from tests.grants import GrantAuth


@pytest.fixture(scope="module")
def edge_base_settings(s3_server: Service) -> Settings:
    """The buckets as bootstrap makes them (previews private: the edge signs its reads)."""
    settings = get_settings()
    create_buckets(settings)
    return settings


@pytest.fixture
def previews_s3(edge_base_settings: Settings) -> Any:
    return s3_client(edge_base_settings)


@pytest.fixture(scope="module")
def origin(s3_server: Service, edge_base_settings: Settings) -> Iterator[Origin]:
    with counting_proxy(s3_server.url) as found:
        yield found


@pytest.fixture(scope="module")
def api_seen(api_url: str) -> Iterator[Origin]:  # noqa: F811 - the imported fixture
    """The real API (api.app under uvicorn) behind a counting proxy: what the edge
    forwarded is what reached the API."""
    with counting_proxy(api_url) as found:
        yield found


@pytest.fixture(scope="module")
def edge_settings(
    edge_base_settings: Settings, origin: Origin, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return edge_base_settings.model_copy(
        update={
            "s3_endpoint_url": origin.url,
            "edge_cache_dir": tmp_path_factory.mktemp("edge-cache"),
            "edge_cache_max_size": "256m",
            "edge_playlist_ttl_s": 1,
        }
    )


@pytest.fixture(scope="module")
def edge(
    edge_settings: Settings, api_seen: Origin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The edge as `dailies edge` runs it: the real player files (edge/player/) and the
    real API behind it (through `api_seen`)."""
    with running_edge(edge_settings, api_seen.url, tmp_path_factory) as service:
        yield service


@contextmanager
def running_edge(
    settings: Settings, api_upstream: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    run_dir = tmp_path_factory.mktemp("edge-run")
    service = start_edge(
        settings,
        port=free_port(),
        api_upstream=api_upstream,
        run_dir=run_dir,
        log_dir=run_dir / "logs",
    )
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def client(edge: Service, edge_settings: Settings) -> Iterator[httpx.Client]:
    """A reviewer's client: it holds a grant for every sha it asks for (tests of grants
    themselves use `bare`)."""
    with httpx.Client(base_url=edge.url, timeout=30, auth=GrantAuth(edge_settings)) as http:
        yield http


@pytest.fixture
def bare(edge: Service) -> Iterator[httpx.Client]:
    """A client without any grant."""
    with httpx.Client(base_url=edge.url, timeout=30) as http:
        yield http


@pytest.fixture
def sha() -> str:
    """A fresh master id per test: no test sees another's cache entries."""
    return secrets.token_hex(32)
