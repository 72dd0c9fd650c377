"""A real nginx edge in front of moto, with a counting reverse proxy between them so the
tests can see every request that reaches the origin (and make it answer like AWS does)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.clients import s3_client
from dailies.settings import Settings, get_settings
from dailies.stack.bootstrap import create_buckets
from dailies.stack.edge import start_edge
from dailies.stack.processes import Service, free_port
from tests.edge.counting_origin import FakeApi, Origin, QuietServer, counting_handler
from tests.grants import GrantAuth


@pytest.fixture(scope="module")
def edge_base_settings(s3_server: Service) -> Settings:
    """Only S3 is needed here, not the whole `stack` (Postgres, Redis, Prefect): the
    buckets as bootstrap makes them (previews private: the edge signs its reads)."""
    settings = get_settings()
    create_buckets(settings)
    return settings


@pytest.fixture
def previews_s3(edge_base_settings: Settings) -> Any:
    return s3_client(edge_base_settings)


@pytest.fixture(scope="module")
def origin(s3_server: Service, edge_base_settings: Settings) -> Iterator[Origin]:
    server = QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Origin(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = counting_handler(found, s3_server.url)
    thread = threading.Thread(target=server.serve_forever, name="counting-origin", daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeApi]:
    """Stands in for `uvicorn api.app:app`: records what the edge forwards."""
    seen: list[tuple[str, str, str | None]] = []

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.command, self.path, self.headers.get("Authorization")))
            # Read whatever body came, so a POST is answered like a GET.
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"status": "missing"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

    server = QuietServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, name="fake-api", daemon=True)
    thread.start()
    yield FakeApi(f"http://127.0.0.1:{server.server_address[1]}", seen)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def player_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("player")
    (path / "index.html").write_text("<!doctype html><title>dailies player</title>\n")
    (path / "player.js").write_text("console.log('player');\n")
    return path


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
    edge_settings: Settings,
    fake_api: FakeApi,
    player_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    run_dir = tmp_path_factory.mktemp("edge-run")
    service = start_edge(
        edge_settings,
        port=free_port(),
        api_upstream=fake_api.url,
        run_dir=run_dir,
        log_dir=run_dir / "logs",
        player_dir=player_dir,
    )
    yield service
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
