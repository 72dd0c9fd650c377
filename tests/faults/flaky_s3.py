"""An HTTP proxy in front of moto that the fault tests steer: it answers 503 SlowDown (or 500
InternalError) for a number of requests or a stretch of time (the store throttling or
failing over), starting at once or at the first request of a kind, and can
hold one request, or one response part-way through its body, until told to go on (a moment
a test can kill a process at: "hashing in progress" is "32 MiB of the GET streamed").

Every S3 call of the suite's run processes goes through it (AWS_ENDPOINT_URL_S3). Nothing in
it is S3-specific but the error bodies: test_api_kill.py puts one in front of Prefect's API."""

from __future__ import annotations

import http.client
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>flaky-s3</RequestId></Error>"
)
INTERNAL_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message>"
    b"<RequestId>flaky-s3</RequestId></Error>"
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te"}
CHUNK = 256 * 1024

Match = Callable[[str, str, dict[str, str]], bool]


@dataclass
class Hold:
    """Stop the first request `match` accepts: before it is forwarded (after_bytes=0), once
    upstream has answered it but before the client has the answer (answered=True: the
    work is done, the caller does not know; success_only: only a 2xx answer, an error is
    passed on and the hold waits for the retry), or once `after_bytes` of its response
    body have gone out."""

    match: Match
    after_bytes: int = 0
    answered: bool = False  # hold once upstream has answered, before relaying the answer
    success_only: bool = False
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout_s: float) -> bool:
        return self.reached.wait(timeout_s)

    def release(self) -> None:
        self.released.set()


@dataclass
class Outage:
    """503 for the next `times` requests `match` accepts, and for every request during
    `window_s` from the first of them (a store failing over answers everyone 503)."""

    match: Match
    times: int
    window_s: float = 0.0
    status: int = 503  # 503 SlowDown or 500 InternalError
    failed: int = 0
    started: float | None = None


@dataclass
class Faults:
    failures_left: int = 0
    fail_until: float = 0.0
    failed: int = 0
    forwarded: int = 0
    holds: list[Hold] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def should_fail(self, method: str, path: str, headers: dict[str, str]) -> int:
        """The error status to answer with, or 0 to forward the request."""
        with self.lock:
            status = self._outage(method, path, headers)
            if self.failures_left > 0 or time.monotonic() < self.fail_until:
                status = 503
            if status:
                self.failures_left = max(0, self.failures_left - 1)
                self.failed += 1
                return status
            self.forwarded += 1
            return 0

    def _outage(self, method: str, path: str, headers: dict[str, str]) -> int:
        for outage in self.outages:
            if outage.failed < outage.times and outage.match(method, path, headers):
                outage.failed += 1
                outage.started = outage.started or time.monotonic()
                return outage.status
            if outage.started is not None and time.monotonic() < outage.started + outage.window_s:
                return outage.status
        return 0

    def rearm(self, hold: Hold) -> None:
        with self.lock:
            self.holds.insert(0, hold)

    def take_hold(self, method: str, path: str, headers: dict[str, str]) -> Hold | None:
        with self.lock:
            for hold in self.holds:
                if hold.match(method, path, headers):
                    self.holds.remove(hold)
                    return hold
        return None


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client the test killed drops its connection: expected, one line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            print(f"flaky proxy: {client_address[0]}:{client_address[1]} went away ({error})")
            return
        super().handle_error(request, client_address)


class FlakyS3:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.faults = Faults()
        self.server = _ProxyServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, count: int) -> None:
        with self.faults.lock:
            self.faults.failures_left = count

    def fail_for(self, seconds: float) -> None:
        with self.faults.lock:
            self.faults.fail_until = time.monotonic() + seconds

    def outage(self, match: Match, times: int, window_s: float = 0.0, status: int = 503) -> Outage:
        outage = Outage(match, times, window_s, status)
        with self.faults.lock:
            self.faults.outages.append(outage)
        return outage

    def hold(
        self, match: Match, after_bytes: int = 0, answered: bool = False, success_only: bool = False
    ) -> Hold:
        hold = Hold(match, after_bytes, answered, success_only)
        with self.faults.lock:
            self.faults.holds.append(hold)
        return hold

    def reset(self) -> None:
        with self.faults.lock:
            self.faults.failures_left, self.faults.fail_until = 0, 0.0
            for hold in self.faults.holds:
                hold.release()
            self.faults.holds.clear()
            self.faults.outages.clear()

    def close(self) -> None:
        self.reset()
        self.server.shutdown()
        self.server.server_close()


def _handler(proxy: FlakyS3) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return data
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _proxy(self) -> None:
            body = self._body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if status := proxy.faults.should_fail(self.command, self.path, headers):
                body = SLOW_DOWN if status == 503 else INTERNAL_ERROR
                self._send(status, {"Content-Type": "application/xml"}, body)
                return
            hold = proxy.faults.take_hold(self.command, self.path, headers)
            if hold is not None and hold.after_bytes == 0 and not hold.answered:
                hold.reached.set()
                hold.released.wait(120)
            if body or "Content-Length" in self.headers:
                headers["Content-Length"] = str(len(body))
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                if hold is not None and hold.answered:
                    if hold.success_only and response.status >= 300:
                        # Upstream refused (a busy Prefect SQLite answers 5xx, and the client
                        # retries): nothing was done, so this is not the answer to hold back.
                        proxy.faults.rearm(hold)
                        hold = None
                    else:
                        hold.reached.set()
                        hold.released.wait(120)
                self._relay(response, hold if hold and hold.after_bytes else None)
            finally:
                upstream.close()

        def _relay(self, response: http.client.HTTPResponse, hold: Hold | None) -> None:
            self.send_response(response.status, response.reason)
            length = response.getheader("Content-Length")
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            if self.command == "HEAD" or length is not None:
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                sent = 0
                while self.command != "HEAD" and (chunk := response.read(CHUNK)):
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    if hold is not None and sent >= hold.after_bytes:
                        self.wfile.flush()
                        hold.reached.set()
                        hold.released.wait(120)
                        hold = None
                return
            data = response.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _guarded(self) -> None:
            try:
                self._proxy()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client was killed mid-request

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _guarded

    return Handler
