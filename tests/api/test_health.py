"""Liveness and readiness, including each dependency going down (503 naming it)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import PrefectClient

from api.app import create_app
from tests.api.conftest import dead_port, insert_master, serve
from tests.faults.outcome import wait_for


def test_healthz_and_readyz(anonymous: httpx.Client) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    # Each probe has 3 s: on a loaded box a live moto missed it once (CI soak, "s3: down: no
    # answer within 3s"), as a readiness probe may; asked again, as a kubelet would, until
    # every dependency answers in time (the deadline is only a failure timeout).
    deadline = time.monotonic() + 60
    while (ready := anonymous.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, ready.text
        time.sleep(0.5)
    assert set(ready.json()["checks"]) == {"database", "redis", "s3", "prefect"}
    assert all(v == "ok" for v in ready.json()["checks"].values())


@pytest.mark.parametrize("down", ["database", "redis", "s3", "prefect"])
def test_readyz_names_the_dependency_that_is_down(
    api_settings: Any, tokens: dict[str, str], down: str
) -> None:
    port = dead_port()
    update = {
        "database": {"database_url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"},
        "redis": {"redis_url": f"redis://127.0.0.1:{port}/15"},
        "s3": {"s3_endpoint_url": f"http://127.0.0.1:{port}"},
        "prefect": {},
    }[down]
    # Prefect's address is Prefect's own setting, not ours: the app takes the client factory
    # an embedding passes (as `uvicorn api.app:app` takes PREFECT_API_URL), here one whose
    # client talks to a port nothing listens on.
    dead_prefect = f"http://127.0.0.1:{port}/api"
    factory = (lambda: PrefectClient(api=dead_prefect)) if down == "prefect" else None
    app = create_app(api_settings.model_copy(update=update), prefect_factory=factory)
    with serve(app) as url:
        # Each probe has 3 s (api/routes/health.py): on a loaded box a live moto or Postgres
        # may miss it once, so ask again until every other dependency answered in time; the
        # dead one is down every time (the deadline is only a failure timeout).
        deadline = time.monotonic() + 60
        while True:
            response = httpx.get(f"{url}/readyz", timeout=30)
            body = response.json()
            others = [v for k, v in body["checks"].items() if k != down]
            if all(v.startswith("ok") for v in others):
                break
            assert time.monotonic() < deadline, body
        assert response.status_code == 503
        assert body["detail"] == f"not ready: {down} down"
        assert body["checks"][down].startswith("down")

        # Routes that need the missing dependency answer 503 naming it, never 500.
        if down in ("redis", "prefect"):
            headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
            body = {"sha": insert_master(api_settings)}
            trigger = httpx.post(f"{url}/api/preview", json=body, headers=headers, timeout=60)
            assert trigger.status_code == 503, trigger.text
            assert down in trigger.json()["detail"]
        if down == "database":
            headers = {"Authorization": f"Bearer {tokens['reviewer']}"}
            status = httpx.get(f"{url}/api/preview/{'a' * 64}", headers=headers, timeout=60)
            assert status.status_code == 503 and "database" in status.json()["detail"]


def test_readyz_without_redis_configured_is_ready(api_settings: Any) -> None:
    with serve(create_app(api_settings.model_copy(update={"redis_url": None}))) as url:
        # Ready once every probe answers in its 3 s: on a box at load 20 the store's may not,
        # and readiness is asked again as a load balancer would (a failure bound only).
        response = wait_for(
            "ready without Redis",
            lambda: (r := httpx.get(f"{url}/readyz", timeout=30)).status_code != 503 and r,
            60,
            1,
        )
    assert response.status_code == 200, response.text
    assert "not configured" in response.json()["checks"]["redis"]
