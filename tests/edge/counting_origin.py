"""A counting reverse proxy: in front of moto every request that reaches the S3 side is
counted, and a test can make chosen keys answer like AWS does (403, 5xx) or slowly; in front
of the real API it records what the edge forwarded. It only forwards: the answers are the
upstream's own."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Headers a proxy must not forward (RFC 9110 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
FORBIDDEN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
)


def error_body(status: int) -> bytes:
    """What S3 sends with an error: an XML document naming itself (never for a client)."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<Error><Code>Status%d</Code><Message>from the origin</Message>"
        b"<RequestId>0</RequestId></Error>" % status
    )


@dataclass
class Origin:
    """What the S3 side saw (`requests` counts paths, `seen` keeps every request as it
    arrived: method, target with its query string, headers); `forbid` answers 403 like
    AWS does for a missing key when the caller may not list the bucket, `status` any
    other status, `delay_s` holds a response back."""

    url: str
    requests: Counter[str] = field(default_factory=Counter)
    seen: list[SeenRequest] = field(default_factory=list)
    forbid: set[str] = field(default_factory=set)
    status: dict[str, int] = field(default_factory=dict)
    delay_s: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return self.requests[path]

    def seen_for(self, path: str) -> list[SeenRequest]:
        """Every request whose path (before any query string) is `path`."""
        with self.lock:
            return [r for r in self.seen if r.target.split("?", 1)[0] == path]


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]


def counting_handler(origin: Origin, upstream: str) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)

    class CountingProxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._forward()

        def do_HEAD(self) -> None:
            self._forward()

        def do_PUT(self) -> None:
            self._forward()

        def do_POST(self) -> None:
            self._forward()

        def do_DELETE(self) -> None:
            self._forward()

        def __getattr__(self, name: str) -> Any:
            # Any other method (M-SEARCH, GET_, PROPFIND...) is recorded and forwarded too,
            # not refused here with a 501: a test must see it if the edge let it through.
            if name.startswith("do_"):
                return self._forward
            raise AttributeError(name)

        def _forward(self) -> None:
            path = self.path.split("?", 1)[0]
            seen = SeenRequest(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}
            )
            with origin.lock:
                origin.requests[path] += 1
                origin.seen.append(seen)
            time.sleep(origin.delay_s.get(path, 0))
            if path in origin.forbid:
                self._reply(403, {"Content-Type": "application/xml"}, FORBIDDEN_BODY)
                return
            if path in origin.status:
                code = origin.status[path]
                self._reply(code, {"Content-Type": "application/xml"}, error_body(code))
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = http.client.HTTPConnection(target.netloc, timeout=30)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                kept = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
                self._reply(response.status, kept, payload)
            finally:
                conn.close()

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in {"content-length", "server", "date"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

    return CountingProxy


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True


@contextmanager
def counting_proxy(upstream: str) -> Iterator[Origin]:
    """Serve a counting proxy to `upstream` on a free port while the block runs."""
    server = QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Origin(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = counting_handler(found, upstream)
    thread = threading.Thread(target=server.serve_forever, name="counting-proxy", daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
