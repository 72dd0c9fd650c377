"""The edge's /api/ rate limits, rate and burst, as the README states them: requests without
a token 5/s per client address with a burst of 20; every /api/ request 100/s per address
with a burst of 1000. Refused ones are 429 with Retry-After and never reach the API.

nginx's limit_req with `nodelay` lets `burst` requests through at once (burst + 1 in the
last zone a request is checked in: its first request is counted after the check, not
before) and refills at `rate`; refused requests take nothing from any zone. So however
loaded the machine, requests sent as fast as curl can, over `elapsed` seconds, let through
at least `burst` and at most burst + rate * elapsed + 1: the bounds are computed from the
measured send, not guessed.
Each test gets an edge of its own, so its counters start empty."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from dailies.settings import Settings
from dailies.stack.processes import Service
from tests.edge.conftest import running_edge
from tests.edge.counting_origin import Origin


@dataclass(frozen=True)
class Limit:
    rate: int  # requests per second
    burst: int


ANONYMOUS = Limit(rate=5, burst=20)  # README "Security model"
PER_ADDRESS = Limit(rate=100, burst=1000)
# Sent in rounds until one is refused: on a slow machine the bucket refills while we send.
ROUND = 600
MAX_ROUNDS = 8
# 32 at a time (a Python client would be slower than the refill on a loaded box); a line
# of ours per answer on stderr, where parallel curl could otherwise draw its progress.
CURL = [
    "curl", "--silent", "--no-progress-meter", "--parallel", "--parallel-immediate",
    "--parallel-max", "32", "--write-out", "%{stderr}@ %{http_code} %header{retry-after}\n",
]  # fmt: skip


@dataclass
class Sent:
    statuses: Counter[int]
    retry_after: Counter[str]
    elapsed_s: float

    def check(self, limit: Limit, passed_status: int) -> int:
        """Assert the passed count lies within the limit's bounds; return it."""
        passed = self.statuses[passed_status]
        refused = self.statuses[429]
        assert set(self.statuses) == {passed_status, 429}, self.statuses
        most = limit.burst + limit.rate * self.elapsed_s + 1
        assert limit.burst <= passed <= most, (passed, most, self.elapsed_s)
        assert refused > 0
        # Every refusal says when to come back.
        assert self.retry_after == Counter({"1": refused}), self.retry_after
        return passed


def send(url: str, headers: dict[str, str], until_refused: int = 1) -> Sent:
    """GET url?n=1.. in rounds of ROUND until a round sees a 429."""
    statuses: Counter[int] = Counter()
    retry_after: Counter[str] = Counter()
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    started = time.monotonic()
    for round_index in range(MAX_ROUNDS):
        first = round_index * ROUND + 1
        done = subprocess.run(
            [*CURL, *header_args, f"{url}?n=[{first}-{first + ROUND - 1}]"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, check=True,
        )  # fmt: skip
        for line in re.findall(r"^@ (.*)$", done.stderr, re.M):
            status, _, after = line.partition(" ")
            statuses[int(status)] += 1
            if status == "429":
                retry_after[after] += 1
        assert sum(statuses.values()) == (round_index + 1) * ROUND, done.stderr[-2000:]
        if statuses[429] >= until_refused:
            break
    return Sent(statuses, retry_after, time.monotonic() - started)


@pytest.fixture
def fresh_edge(
    edge_settings: Settings, api_seen: Origin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    with running_edge(edge_settings, api_seen.url, tmp_path_factory) as service:
        yield service


def test_anonymous_api_traffic_is_5_per_second_burst_20_per_address(
    fresh_edge: Service, api_seen: Origin, tokens: dict[str, str], sha: str
) -> None:
    path = f"/api/preview/{sha}"
    sent = send(fresh_edge.url + path, {})
    passed = sent.check(ANONYMOUS, passed_status=401)  # the API's answer to no token
    # The refused ones were answered by the edge, never forwarded.
    assert len(api_seen.seen_for(path)) == passed

    # The refusal's body (the bucket refills 5/s: the next 429 is a request or two away).
    answers = (httpx.get(fresh_edge.url + path) for _ in range(50))
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["detail"] == "too many requests without a token; retry shortly"
    # A reviewer with a token on the same address is still served (the API limits it).
    headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
    assert httpx.get(fresh_edge.url + path, headers=headers).status_code == 404


def test_all_api_traffic_is_100_per_second_burst_1000_per_address(
    fresh_edge: Service, api_seen: Origin
) -> None:
    """A made-up token is no way around the per-address limit. (An unknown path: the API
    answers it without a database lookup, so the API keeps up with the edge.)"""
    path = "/api/rate-limit-probe"
    sent = send(fresh_edge.url + path, {"Authorization": "Bearer dly_made-up"})
    passed = sent.check(PER_ADDRESS, passed_status=404)
    assert len(api_seen.seen_for(path)) == passed
