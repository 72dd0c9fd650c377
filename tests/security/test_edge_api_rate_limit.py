"""The edge's /api/ rate limits, rate and burst, as the README states them: requests without
a token 5/s per client address with a burst of 20; every /api/ request 100/s per address
with a burst of 1000. Refused ones are 429 with Retry-After and never reach the API.

nginx's limit_req with `nodelay` lets `burst` requests through at once (burst + 1 in the
last zone a request is checked in: its first request is counted after the check, not
before) and refills at `rate`; refused requests take nothing from any zone. So once the
burst is drained, of `sent` requests sent without pause for `elapsed` seconds at least
min(sent, rate * (elapsed - SLACK_S) - 1) get through (SLACK_S: curl's start and the last
answer's way back; a sender slower than the rate has every request let through), and over
the whole send of `total` seconds no more than burst + rate * total + 2 pass (one for the
last zone's extra first request, one for nginx's millisecond clock). The bounds come from
the measured send, not from a guess at how fast this machine is; WINDOW_S of sending after
the burst makes the rate itself show, if the sender offers well over the rate (OVERSEND):
a slower one is tried again with more curl transfers at a time, then the test is skipped
with the rate it reached (the bounds above still hold and are asserted). Each test gets an
edge of its own, so its counters start empty."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from dailies.settings import Settings
from ops.processes import Service
from tests.edge.conftest import running_edge
from tests.edge.counting_origin import Origin


@dataclass(frozen=True)
class Limit:
    rate: int  # requests per second
    burst: int


ANONYMOUS = Limit(rate=5, burst=20)  # README "Security model"
PER_ADDRESS = Limit(rate=100, burst=1000)
# Sent in rounds of ROUND requests.
ROUND = 300
WINDOW_S = 3.0
SLACK_S = 0.5
# The steady send must offer this many times the rate, or it cannot tell the rate apart
# from a lower one (a halved rate passes 1/2 of it, well under the lower bound).
OVERSEND = 1.5
# 16 transfers at a time (a Python client would be slower than the refill on a loaded box),
# 64 on the second try; a line of ours per answer on stderr, where parallel curl could
# otherwise draw its progress.
PARALLEL = (16, 64)
CURL = [
    "curl", "--silent", "--no-progress-meter", "--parallel", "--parallel-immediate",
    "--write-out", "%{stderr}@ %{http_code} %header{retry-after}\n",
]  # fmt: skip


@dataclass
class Sent:
    statuses: Counter[int]
    retry_after: Counter[str]
    elapsed_s: float

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def send(url: str, headers: dict[str, str], enough: Callable[[Sent], bool], parallel: int) -> Sent:
    """GET url?n=1.. in rounds of ROUND, `parallel` at a time, back to back, until `enough`
    (or a minute: a failure bound, not a wait)."""
    sent = Sent(Counter(), Counter(), 0.0)
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    started = time.monotonic()
    while not enough(sent) and sent.elapsed_s < 60:
        done = subprocess.run(
            [*CURL, "--parallel-max", str(parallel), *header_args, f"{url}?n=[1-{ROUND}]"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, check=True,
        )  # fmt: skip
        answers = re.findall(r"^@ (\d{3}) (.*)$", done.stderr, re.M)
        assert len(answers) == ROUND, done.stderr[-2000:]
        for status, after in answers:
            sent.statuses[int(status)] += 1
            if status == "429":
                sent.retry_after[after] += 1
        sent.elapsed_s = time.monotonic() - started
    return sent


def steady_lower_bound(limit: Limit, steady: Sent) -> float:
    """What a send of `steady.total` requests over `steady.elapsed_s`, started with the
    burst drained, gets through at least: all of them when sent slower than the rate."""
    return min(steady.total, limit.rate * (steady.elapsed_s - SLACK_S) - 1)


@dataclass(frozen=True)
class Measured:
    passed: int
    unmeasured: str  # why the rate itself was not told apart from a lower one, or ""

    def skip_if_unmeasured(self) -> None:
        """A test's last step, once everything else it checks has held."""
        if self.unmeasured:
            pytest.skip(self.unmeasured)


def measure(limit: Limit, url: str, headers: dict[str, str], passed_status: int) -> Measured:
    """Drain the burst (until the first refusal), then keep sending for WINDOW_S (once more,
    with more at a time, if the sender offered under OVERSEND times the rate); assert each
    send within the limit's bounds and every refusal a 429 with Retry-After."""
    started = time.monotonic()
    sends = [send(url, headers, lambda sent: sent.statuses[429] > 0, PARALLEL[0])]
    offered: list[float] = []
    for parallel in PARALLEL:
        steady = send(url, headers, lambda sent: sent.elapsed_s >= WINDOW_S, parallel)
        sends.append(steady)
        offered.append(steady.total / steady.elapsed_s)
        refilled = steady.statuses[passed_status]
        print(
            f"{limit}: {refilled} of {steady.total} passed in {steady.elapsed_s:.2f} s "
            f"({offered[-1]:.0f}/s offered, {parallel} at a time)"
        )
        assert refilled >= steady_lower_bound(limit, steady), (steady.elapsed_s, steady.total)
        if offered[-1] >= OVERSEND * limit.rate:
            break
    total_s = time.monotonic() - started
    for sent in sends:
        assert set(sent.statuses) <= {passed_status, 429}, sent.statuses
        assert sent.retry_after == Counter({"1": sent.statuses[429]}), sent.retry_after
    drained = sends[0].statuses[passed_status]
    passed = sum(sent.statuses[passed_status] for sent in sends)
    print(f"{limit}: {drained} passed at once")
    assert drained >= limit.burst and sends[0].statuses[429] > 0, sends[0].statuses
    assert passed <= limit.burst + limit.rate * total_s + 2, total_s
    unmeasured = ""
    if max(offered) < OVERSEND * limit.rate:
        tried = ", ".join(f"{rate:.0f}/s" for rate in offered)
        unmeasured = (
            f"{limit}: the rate was not measured: the sender offered {tried}, under "
            f"{OVERSEND} x {limit.rate}/s (the bounds held; a lower rate would not show)"
        )
    return Measured(passed, unmeasured)


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
    # 401: the API's own answer to no token.
    measured = measure(ANONYMOUS, fresh_edge.url + path, {}, passed_status=401)
    # The refused ones were answered by the edge, never forwarded.
    assert len(api_seen.seen_for(path)) == measured.passed

    # The refusal's body.
    refused = _a_refusal(fresh_edge.url + path)
    assert refused.json()["detail"] == "too many requests without a token; retry shortly"
    # A reviewer with a token on the same address is still served (the API limits it).
    headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
    assert httpx.get(fresh_edge.url + path, headers=headers).status_code == 404
    measured.skip_if_unmeasured()


def _a_refusal(url: str, batch: int = 30) -> httpx.Response:
    """A 429 from the edge: batches sent all at once until one is refused. One at a time, a
    loaded box can send slower than the bucket refills (5/s) and never be refused; a batch
    at once outruns it, the first as soon as the burst is spent."""
    deadline = time.monotonic() + 60  # a failure bound, not a wait
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(batch) as pool:
        while time.monotonic() < deadline:
            for answer in pool.map(lambda _: client.get(url), range(batch)):
                if answer.status_code == 429:
                    return answer
    raise AssertionError(f"no 429 from {url} within a minute of batches of {batch}")


def test_all_api_traffic_is_100_per_second_burst_1000_per_address(
    fresh_edge: Service, api_seen: Origin
) -> None:
    """A made-up token is no way around the per-address limit. (An unknown path: the API
    answers it without a database lookup, so the API keeps up with the edge.)"""
    path = "/api/rate-limit-probe"
    made_up = {"Authorization": "Bearer dly_made-up"}
    measured = measure(PER_ADDRESS, fresh_edge.url + path, made_up, passed_status=404)
    assert len(api_seen.seen_for(path)) == measured.passed
    measured.skip_if_unmeasured()
