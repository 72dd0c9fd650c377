"""An HTTP proxy in front of moto that the fault tests steer: it answers 503 SlowDown for a
number of requests or a stretch of time (the store throttling or failing over), and can
hold one request, or one response part-way through its body, until told to go on (a moment
a test can kill a process at: "hashing in progress" is "32 MiB of the GET streamed").

Every S3 call of the suite's run processes goes through it (AWS_ENDPOINT_URL_S3)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>flaky-s3</RequestId></Error>"
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te"}
CHUNK = 256 * 1024

Match = Callable[[str, str, dict[str, str]], bool]


@dataclass
class Hold:
    """Stop the first request `match` accepts: before it is forwarded (after_bytes=0) or
    once `after_bytes` of its response body have gone out."""

    match: Match
    after_bytes: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout_s: float) -> bool:
        return self.reached.wait(timeout_s)

    def release(self) -> None:
        self.released.set()


@dataclass
class Faults:
    failures_left: int = 0
    fail_until: float = 0.0
    failed: int = 0
    forwarded: int = 0
    holds: list[Hold] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def should_fail(self) -> bool:
        with self.lock:
            if self.failures_left > 0 or time.monotonic() < self.fail_until:
                self.failures_left = max(0, self.failures_left - 1)
                self.failed += 1
                return True
            self.forwarded += 1
            return False

    def take_hold(self, method: str, path: str, headers: dict[str, str]) -> Hold | None:
        with self.lock:
            for hold in self.holds:
                if hold.match(method, path, headers):
                    self.holds.remove(hold)
                    return hold
        return None


class FlakyS3:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.faults = Faults()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, count: int) -> None:
        with self.faults.lock:
            self.faults.failures_left = count

    def fail_for(self, seconds: float) -> None:
        with self.faults.lock:
            self.faults.fail_until = time.monotonic() + seconds

    def hold(self, match: Match, after_bytes: int = 0) -> Hold:
        hold = Hold(match, after_bytes)
        with self.faults.lock:
            self.faults.holds.append(hold)
        return hold

    def reset(self) -> None:
        with self.faults.lock:
            self.faults.failures_left, self.faults.fail_until = 0, 0.0
            for hold in self.faults.holds:
                hold.release()
            self.faults.holds.clear()

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
            if proxy.faults.should_fail():
                self._send(503, {"Content-Type": "application/xml"}, SLOW_DOWN)
                return
            hold = proxy.faults.take_hold(self.command, self.path, headers)
            if hold is not None and hold.after_bytes == 0:
                hold.reached.set()
                hold.released.wait(120)
            if body or "Content-Length" in self.headers:
                headers["Content-Length"] = str(len(body))
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
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
