"""POST /api/preview with `wait_s`: held until the multivariant playlist is in the previews
bucket (moto), one shared HEAD poller per sha however many reviewers wait.

The real app, configured through its settings: its S3 endpoint is a proxy in front of moto
that keeps every request (what the poller costs the store) and can hold a HEAD once moto
has answered it (the moment a poll is stuck in a probe).
Every wait below is on one of those events; durations are only compared with the server's
wait cap (`preview_wait_s`), which is long, so a slow box cannot pass as a fast one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from dailies.clients import s3_client
from dailies.db.previews import ACTIVE
from dailies.previews.layout import multivariant_key
from tests.api.conftest import insert_master, serve
from tests.api.test_single_flight import burst
from tests.faults.flaky_s3 import FlakyS3, Hold
from tests.store_proxy import RecordingFaults

CAP_S = 20.0  # the server's cap on wait_s: what "answered at once" is measured against
LATE_CAP_S = 5.0  # a short cap for the one test that outlives a whole poll
EVENT_TIMEOUT_S = 60.0  # failure timeout for every wait on an event


@dataclass
class Served:
    url: str
    app: FastAPI
    store: FlakyS3  # holds a request on demand
    recorded: RecordingFaults  # every request it forwarded to moto

    def multivariant_path(self, sha: str) -> str:
        return f"/{self.app.state.settings.previews_bucket}/{multivariant_key(sha)}"

    def heads(self, sha: str) -> int:
        path = self.multivariant_path(sha)
        with self.recorded.lock:
            seen = list(self.recorded.seen)
        return sum(
            1 for method, target, _ in seen if method == "HEAD" and target.split("?")[0] == path
        )

    def hold_next_head(self, sha: str) -> Hold:
        """The next HEAD of the sha's multivariant playlist, held after moto answered it (404
        when it was not there yet), before the app has the answer."""
        path = self.multivariant_path(sha)
        return self.store.hold(
            lambda method, target, _: method == "HEAD" and target.split("?")[0] == path,
            answered=True,
        )


@contextmanager
def _served(settings: Any, cap_s: float) -> Iterator[Served]:
    store = FlakyS3(str(settings.s3_endpoint_url))
    store.faults = recorded = RecordingFaults()
    app = create_app(
        settings.model_copy(
            update={
                "s3_endpoint_url": store.url,
                "preview_wait_s": cap_s,
                # 200-request bursts with the reviewer token other API tests also spend
                "rate_limit_requests": 100_000,
            }
        )
    )
    try:
        with serve(app) as url:
            yield Served(url, app, store, recorded)
    finally:
        store.close()


@pytest.fixture(scope="module")
def served(api_settings: Any, deployments: None) -> Iterator[Served]:
    with _served(api_settings, CAP_S) as made:
        yield made


@pytest.fixture
def client(served: Served, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=120) as made:
        yield made


class Post:
    """POST /api/preview in a thread; `answered_at` is when its answer came back."""

    def __init__(self, client: httpx.Client, sha: str, wait_s: float) -> None:
        self.response: httpx.Response | None = None
        self.answered_at = 0.0
        self.sent_at = time.monotonic()
        self._thread = threading.Thread(target=self._send, args=(client, sha, wait_s))
        self._thread.start()

    def _send(self, client: httpx.Client, sha: str, wait_s: float) -> None:
        self.response = client.post("/api/preview", json={"sha": sha, "wait_s": wait_s})
        self.answered_at = time.monotonic()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> httpx.Response:
        self._thread.join(EVENT_TIMEOUT_S + CAP_S)
        assert self.response is not None, "no answer"
        return self.response


def _put_multivariant(stack: Any, sha: str) -> None:
    """Straight to moto, as the first rendition's publisher would."""
    s3_client(stack).put_object(
        Bucket=stack.previews_bucket, Key=multivariant_key(sha), Body=b"#EXTM3U\n"
    )


def _until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_answers_playable_once_the_multivariant_appears(
    client: httpx.Client, served: Served, stack: Any
) -> None:
    sha = insert_master(stack)
    post = Post(client, sha, CAP_S)
    _until(lambda: served.heads(sha) > 0, "the request's poll to start")  # it is held
    put_started = time.monotonic()
    _put_multivariant(stack, sha)
    put_done = time.monotonic()
    response = post.result()
    assert response.status_code == 202, response.text
    body = response.json()
    # A worker may already have taken the run, or the answer beaten the launch: either way
    # a build in progress, never "ready" (that is the ladder's) nor "failed".
    assert body["playable"] is True and body["status"] in ACTIVE, body
    assert body["manifest_url"] == f"{stack.edge_url}/previews/{sha}/manifest.m3u8"
    # Held until the multivariant playlist was there, then answered on a poll, not when the
    # wait ran out.
    assert post.answered_at > put_started
    assert post.answered_at - put_done < CAP_S / 2, (post.answered_at - put_done, CAP_S)


def test_without_wait_s_a_ready_preview_is_always_the_200(
    client: httpx.Client, served: Served, stack: Any
) -> None:
    """The one look a POST without wait_s takes comes after the trigger's answer, never
    raced with it: raced, a ready preview whose playlist HEAD came back first was answered
    202 "building" (a loaded soak run: the player's grant renewal got a 202)."""
    sha = insert_master(stack, {"status": "ready", "manifest_key": "manifest.m3u8"})
    _put_multivariant(stack, sha)
    answers = [client.post("/api/preview", json={"sha": sha}) for _ in range(20)]
    assert [(a.status_code, a.json()["status"]) for a in answers] == [(200, "ready")] * 20


def test_answers_not_playable_after_wait_s(
    client: httpx.Client, served: Served, stack: Any
) -> None:
    sha = insert_master(stack)
    post = Post(client, sha, 1.5)
    response = post.result()
    elapsed = post.answered_at - post.sent_at
    assert response.status_code == 202 and "playable" not in response.json()
    # Its own wait_s, not the server's cap (held to the cap, it could not answer before it).
    assert 1.5 <= elapsed < CAP_S, elapsed
    assert served.heads(sha) > 0  # it did poll
    # Without wait_s it answers at once: one look (one HEAD), no poll.
    sha = insert_master(stack)
    post = Post(client, sha, 0)
    response = post.result()
    assert response.status_code == 202 and "playable" not in response.json()
    assert post.answered_at - post.sent_at < CAP_S
    assert served.heads(sha) == 1


def test_without_wait_s_it_still_says_playable_when_it_is(
    client: httpx.Client, served: Served, stack: Any
) -> None:
    """The page's first ask does not wait (its answer's grant shows the poster at once); a
    playlist already there is still said, so the page plays without a second ask."""
    sha = insert_master(stack)
    _put_multivariant(stack, sha)
    post = Post(client, sha, 0)
    response = post.result()
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["playable"] is True and body["status"] in ACTIVE, body
    assert body["manifest_url"] == f"{stack.edge_url}/previews/{sha}/manifest.m3u8"
    assert served.heads(sha) == 1


def test_a_late_waiter_gets_its_whole_wait(
    api_settings: Any, deployments: None, tokens: dict[str, str], stack: Any
) -> None:
    """Joining a poll another request started does not end this request at the other's
    deadline: it is still held when the multivariant playlist appears after the first poll
    gave up.

    The first poll is held in a probe (moto has said 404) from its start until its deadline
    has passed, so the second request joins it, and the multivariant playlist is put before
    the probe's answer is let through: only a poll started after that one can see it."""
    headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
    with (
        _served(api_settings, LATE_CAP_S) as late,
        httpx.Client(base_url=late.url, headers=headers, timeout=120) as client,
    ):
        sha = insert_master(stack)
        hold = late.hold_next_head(sha)
        first = Post(client, sha, LATE_CAP_S)
        assert hold.wait(EVENT_TIMEOUT_S), "the first request never polled"
        polling_since = time.monotonic()  # the poll's deadline is before this + LATE_CAP_S
        # setup: join the stuck poll halfway through it (it cannot end while held)
        time.sleep(LATE_CAP_S / 2)
        second = Post(client, sha, LATE_CAP_S)
        assert first.result().json().get("playable") is None  # its wait ran out
        time.sleep(max(0.0, polling_since + LATE_CAP_S - time.monotonic()))
        _put_multivariant(stack, sha)
        hold.release()  # the first poll gets its 404, past its deadline: it ends
        response = second.result()
    assert response.json().get("playable") is True, response.json()
    assert second.answered_at > polling_since + LATE_CAP_S


def _reviewer_key(stack: Any) -> tuple[int, str]:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    with session_scope(stack) as session:
        key, token = api_keys.create_key(session, "reviewer", name="tests-long-poll-burst")
        return int(key.id), token


def _requests_in(stack: Any, key_id: int) -> int:
    """Requests with this key the app has let past its rate limit (api/limits.py counts
    them in Redis per window): how many of a burst have reached the route."""
    import redis

    client = redis.Redis.from_url(str(stack.redis_url))
    keys = list(client.scan_iter(f"dailies:ratelimit:key{key_id}:*"))
    return sum(int(value) for value in client.mget(keys) if value) if keys else 0


def test_200_waiters_share_one_poller(served: Served, stack: Any) -> None:
    """One HEAD per interval while anyone waits, not one per waiter. The poll is held in its
    first probe until every request of the burst has reached the route: joining it costs
    the store nothing, where a poll per waiter would HEAD once for each of them at least."""
    sha = insert_master(stack)
    key_id, token = _reviewer_key(stack)
    n = 200
    hold = served.hold_next_head(sha)
    heads_while_held: list[int] = []

    def put_once_everyone_waits() -> None:
        try:
            assert hold.wait(EVENT_TIMEOUT_S), "nobody polled"
            _until(lambda: _requests_in(stack, key_id) >= n, "the whole burst to arrive")
            time.sleep(1.0)  # setup: the last arrivals get from the rate limit to the poll
            heads_while_held.append(served.heads(sha))
            _put_multivariant(stack, sha)
        finally:
            hold.release()

    putter = threading.Thread(target=put_once_everyone_waits)
    putter.start()
    responses = burst(served.url, token, sha, n, wait_s=CAP_S)
    putter.join(EVENT_TIMEOUT_S)
    assert {r.status_code for r in responses} == {202}
    assert all(r.json().get("playable") is True for r in responses)
    assert heads_while_held == [1], heads_while_held  # the held probe, nobody else's
