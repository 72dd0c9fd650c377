"""Short grants that a reviewer never notices, and that end a revoked reviewer's watching
(issue 25, item 5). The attack that found it: a revoked reviewer's grant kept serving
previews until it expired, up to an hour. Grants now last DAILIES_PREVIEW_GRANT_TTL_S (300 s
by default; 10 s here) and the player renews each before it lapses: in headless Chromium
through the real edge and an API of this module's own (its grants short), playback runs past
the grant's life with no segment refused; then the reviewer's token is revoked with
`dailies keys revoke`, and the page stops at its next renewal with the reason, while the
last grant it held stops at the edge by its expiry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.grant_rules import COOKIE_NAME
from ops.processes import Service, free_port
from tests.e2e.test_regrant import _access_log_from, _publish_ready_preview

pytestmark = pytest.mark.slow

TTL_S = 10  # the shortest the settings allow
DAILIES = str(Path(sys.executable).parent / "dailies")


@pytest.fixture(scope="module")
def short_grants(
    e2e_settings: Any, deployed: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Service]]:
    """An API that hands out 10 s grants, and an edge in front of it."""
    from api.app import create_app
    from ops.edge import start_edge
    from tests.serving import serve

    port = free_port()
    settings = e2e_settings.model_copy(
        update={"preview_grant_ttl_s": TTL_S, "edge_url": f"http://127.0.0.1:{port}"}
    )
    run_dir = tmp_path_factory.mktemp("short-grants-edge")
    with serve(create_app(settings), access_log=False) as api_url:
        edge = start_edge(settings, port=port, api_upstream=api_url, run_dir=run_dir,
                          log_dir=run_dir)  # fmt: skip
        try:
            yield settings, edge
        finally:
            edge.stop()


def test_grants_renew_unseen_and_a_revoked_reviewer_stops_within_their_life(
    browser: Any, short_grants: tuple[Any, Service], s3: Any, tmp_path: Path
) -> None:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    settings, edge = short_grants
    sha = _publish_ready_preview(s3, settings, tmp_path)
    with session_scope(settings) as session:
        key, token = api_keys.create_key(session, "reviewer", name="revoked-mid-play")
        key_id = key.id
    log_offset = Path(edge.extra["access_log"]).stat().st_size
    page = browser.new_page()
    try:
        page.goto(f"{edge.url}/watch/{sha}#token={token}")
        # Played past one and a half grant lives: at least one renewal on the way.
        page.wait_for_function(
            f"() => document.querySelector('video').currentTime > {1.5 * TTL_S}",
            timeout=90_000, polling=200,
        )  # fmt: skip
        seen = _access_log_from(edge, log_offset)
        previews = [status for _, path, status in seen if path.startswith(f"/previews/{sha}/")]
        assert 403 not in previews, seen  # renewed before the edge would refuse
        asked = [s for method, path, s in seen if (method, path) == ("POST", "/api/preview")]
        assert len(asked) >= 2 and set(asked) <= {200, 202}, seen  # both carry a grant

        revoked = subprocess.run(
            [DAILIES, "keys", "revoke", str(key_id)],
            env=os.environ, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert revoked.returncode == 0, revoked.stderr
        at = time.monotonic()
        grant = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE_NAME)

        # The page: stopped at its next renewal (within 4/5 of a grant's life), saying why.
        page.wait_for_function(
            "() => window.dailiesPlayer.error !== null", timeout=TTL_S * 1000 + 5_000
        )
        stopped_after = time.monotonic() - at
        trace = page.evaluate("() => window.dailiesPlayer")
        assert "was not accepted" in trace["error"], trace
        assert page.evaluate("() => document.querySelector('video').paused")

        # The edge: the last grant it was given serves until it expires, and no longer.
        segment = f"{edge.url}/previews/{sha}/init.mp4"
        while httpx.get(segment, params={"grant": grant}, timeout=10).status_code == 200:
            assert time.monotonic() - at < TTL_S + 2, "a revoked reviewer's grant outlived it"
            time.sleep(0.2)
        refused_after = time.monotonic() - at
        assert httpx.get(segment, params={"grant": grant}, timeout=10).status_code == 403
        print(f"REVOKE page_stopped_s={stopped_after:.1f} grant_refused_s={refused_after:.1f} "
              f"bound_s={TTL_S}")  # fmt: skip
        assert re.fullmatch(r"\d+\.[0-9a-f]{64}", grant)
    finally:
        page.close()
