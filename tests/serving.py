"""Serve an ASGI app with a real uvicorn, or a bucket over plain HTTP, on a free port, in a
thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn


@contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """Yield the base URL while uvicorn serves `app`; stop it afterwards."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@contextmanager
def bucket_reader(s3: Any, bucket: str) -> Iterator[str]:
    """Yield a base URL serving `bucket`'s objects over plain HTTP (GET/HEAD, Range passed
    through), read with the client's credentials: how a test lets ffprobe follow an HLS
    multivariant playlist's relative URLs now that the previews bucket refuses anonymous reads."""
    import http.server

    from botocore.exceptions import ClientError

    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self, body: bool) -> None:
            key = self.path.split("?")[0].lstrip("/")
            extra = {"Range": self.headers["Range"]} if self.headers.get("Range") else {}
            try:
                got = s3.get_object(Bucket=bucket, Key=key, **extra)
            except ClientError as exc:
                status = int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
                self.send_error(status)
                return
            data = got["Body"].read()
            self.send_response(206 if "ContentRange" in got else 200)
            self.send_header("Content-Type", got.get("ContentType", "application/octet-stream"))
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            if "ContentRange" in got:
                self.send_header("Content-Range", got["ContentRange"])
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve(body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._serve(body=False)

        def log_message(self, *_: Any) -> None:  # quiet: pytest shows failures, not traffic
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def api_processes(env: dict[str, str], log_root: Path, count: int = 2) -> Iterator[list[str]]:
    """`count` API processes (`uvicorn api.app:app`, as an operator runs them) with `env`:
    what one process's memory hides, several show. Yields their base URLs."""
    from ops.processes import Service, free_port, start_api

    services: list[Service] = []
    try:
        for n in range(count):
            services.append(start_api(free_port(), env, log_root / f"api-{n}"))
        yield [service.url for service in services]
    finally:
        for service in services:
            service.stop()
