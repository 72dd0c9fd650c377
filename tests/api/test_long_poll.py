"""POST /api/preview with `wait_s`: held until the manifest is in the previews bucket (moto),
one shared HEAD poller per sha however many reviewers wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.deps import get_manifest_watch
from api.manifest_watch import ManifestWatch
from dailies.clients import s3_client
from dailies.media.publish import manifest_key
from dailies.storage.previews import preview_exists
from tests.api.conftest import insert_master, serve
from tests.api.test_single_flight import burst

INTERVAL_S = 0.1
MAX_WAIT_S = 4.0


class CountingExists:
    """The app's own check (a HEAD on the previews bucket), counting calls per sha."""

    def __init__(self, settings: Any) -> None:
        self.settings, self.s3 = settings, s3_client(settings)
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, sha: str) -> bool:
        with self._lock:
            self.calls[sha] = self.calls.get(sha, 0) + 1
        return preview_exists(self.s3, self.settings, manifest_key(sha))


@pytest.fixture(scope="module")
def heads(api_settings: Any) -> CountingExists:
    return CountingExists(api_settings)


@pytest.fixture(scope="module")
def watched_url(api_settings: Any, deployments: None, heads: CountingExists) -> Iterator[str]:
    app = create_app(api_settings)
    watch = ManifestWatch(heads, interval_s=INTERVAL_S, max_wait_s=MAX_WAIT_S)
    app.dependency_overrides[get_manifest_watch] = lambda: watch
    with serve(app) as url:
        yield url


@pytest.fixture
def client(watched_url: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
    with httpx.Client(base_url=watched_url, headers=headers, timeout=60) as made:
        yield made


def _publish_manifest_after(stack: Any, sha: str, delay_s: float) -> threading.Timer:
    def put() -> None:
        s3_client(stack).put_object(
            Bucket=stack.previews_bucket, Key=manifest_key(sha), Body=b"#EXTM3U\n"
        )

    timer = threading.Timer(delay_s, put)
    timer.start()
    return timer


def _timed_post(client: httpx.Client, sha: str, wait_s: float) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.post("/api/preview", json={"sha": sha, "wait_s": wait_s})
    return response, time.monotonic() - started


def test_answers_playable_once_the_manifest_appears(client: httpx.Client, stack: Any) -> None:
    sha = insert_master(stack)
    timer = _publish_manifest_after(stack, sha, 1.0)
    response, elapsed = _timed_post(client, sha, MAX_WAIT_S)
    timer.join()
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["playable"] is True and body["status"] == "queued"
    assert body["manifest_url"] == f"{stack.edge_url}/previews/{sha}/manifest.m3u8"
    assert 1.0 <= elapsed < 1.0 + 1.5, elapsed  # held until then, answered within a poll or so


def test_answers_not_playable_after_wait_s(client: httpx.Client, stack: Any) -> None:
    sha = insert_master(stack)
    response, elapsed = _timed_post(client, sha, 1.5)
    assert response.status_code == 202 and "playable" not in response.json()
    assert 1.5 <= elapsed < 1.5 + 2.0, elapsed
    # Without wait_s it answers at once, as before long polling.
    response, elapsed = _timed_post(client, sha, 0)
    assert response.status_code == 202 and "playable" not in response.json()
    assert elapsed < 1.0


def test_a_late_waiter_gets_its_whole_wait(
    client: httpx.Client, stack: Any, heads: CountingExists
) -> None:
    """Joining a poll another request started does not end this request at the other's
    deadline: it is still held when the manifest appears after the first poll gave up."""
    sha = insert_master(stack)
    first = threading.Thread(target=_timed_post, args=(client, sha, MAX_WAIT_S))
    first.start()
    while not heads.calls.get(sha):  # the first request's poll has started
        time.sleep(0.01)
    polling_since = time.monotonic()
    time.sleep(MAX_WAIT_S / 2)  # setup: join the first poll halfway through
    # The manifest appears once the first poll has ended, before this request's wait does.
    appears_in = polling_since + MAX_WAIT_S + 0.5 - time.monotonic()
    timer = _publish_manifest_after(stack, sha, appears_in)
    response, elapsed = _timed_post(client, sha, MAX_WAIT_S)
    first.join()
    timer.join()
    assert response.json().get("playable") is True, (response.json(), elapsed)
    assert elapsed >= appears_in


def test_200_waiters_share_one_poller(
    watched_url: str, tokens: dict[str, str], stack: Any, heads: CountingExists
) -> None:
    sha = insert_master(stack)
    n, appears_after = 200, 2.0

    started = time.monotonic()
    timer = _publish_manifest_after(stack, sha, appears_after)
    responses = burst(watched_url, tokens["reviewer"], sha, n, wait_s=MAX_WAIT_S)
    polled_s = time.monotonic() - started
    timer.join()
    assert {r.status_code for r in responses} == {202}
    assert all(r.json().get("playable") is True for r in responses)
    # One HEAD per interval while anyone waits (plus one per poll restart), not one per
    # waiter per interval: 200 waiters over ~2 s would be thousands.
    assert 1 <= heads.calls[sha] <= polled_s / INTERVAL_S + 5, (heads.calls[sha], polled_s)
    assert heads.calls[sha] < n
