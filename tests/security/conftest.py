"""Regression tests for attacks on the stack, against the real things: the nginx edge in
front of moto and of the API under uvicorn (through counting proxies, which record every
request that reaches the S3 side and every one the edge forwarded to the API), serving the
real player files. The fixtures are the edge and API suites' own."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from tests.api.conftest import (  # noqa: F401 - fixtures
    anonymous,
    api_settings,
    api_url,
    deployments,
    editor,
    tokens,
)
from tests.edge.conftest import (  # noqa: F401 - fixtures
    api_seen,
    bare,
    client,
    edge,
    edge_base_settings,
    edge_settings,
    origin,
    previews_s3,
    sha,
)

BUCKET = "previews"


def raw_request(
    base_url: str, method: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send `target` exactly as written: httpx would normalise dot segments away."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        conn.putrequest(method, target, skip_host="Host" in (headers or {}))
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
