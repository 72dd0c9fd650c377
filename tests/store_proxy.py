"""This process's S3 calls through a proxy that keeps every request (tests/faults/flaky_s3.py,
no faults planned): what a promotion run in the test's process really sent to the store,
and a place to hold one of its requests while the test changes the store underneath."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dailies.clients import reset_clients
from tests.faults.flaky_s3 import Faults, FlakyS3


@dataclass
class RecordingFaults(Faults):
    """No faults: every request the proxy forwards is kept as it arrived (headers lowercased)."""

    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list, repr=False)

    def should_fail(self, method: str, path: str, headers: dict[str, str]) -> int:
        with self.lock:
            self.seen.append((method, path, {k.lower(): v for k, v in headers.items()}))
        return super().should_fail(method, path, headers)


@contextmanager
def store_behind_proxy(settings: Any) -> Iterator[tuple[FlakyS3, RecordingFaults]]:
    """Clients made from here on (the flow's) reach `settings`' store through the proxy;
    clients made before (a test's own `s3` fixture) still go to the store directly."""
    proxy = FlakyS3(str(settings.s3_endpoint_url))
    proxy.faults = recorded = RecordingFaults()
    saved = os.environ.get("AWS_ENDPOINT_URL_S3")
    os.environ["AWS_ENDPOINT_URL_S3"] = proxy.url
    reset_clients()
    try:
        yield proxy, recorded
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL_S3", None)
        else:
            os.environ["AWS_ENDPOINT_URL_S3"] = saved
        reset_clients()
        proxy.close()
