"""ops/fleet.py is the one description of a fleet: the fleet test runs every role of it,
compose.yaml gives its services the same settings and commands, the README prints it."""

from __future__ import annotations

from pathlib import Path

import yaml

from ops.fleet import DAILIES_ENV, PREFECT_SERVER_ENV, ROLES, role
from tests.fleet.fleet import LAYOUT

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:  # type: ignore[type-arg]
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def test_the_fleet_test_runs_every_role_of_the_table() -> None:
    assert set(LAYOUT.values()) == {r.name for r in ROLES}


def test_compose_gives_its_services_every_setting_of_the_table() -> None:
    services = _compose()["services"]
    for name in ("api", "edge", "cpu-worker", "task-worker", "bootstrap"):
        assert set(DAILIES_ENV) <= set(services[name]["environment"]), name
    # compose runs one Prefect server with its services, on the same settings.
    server = set(services["prefect-server"]["environment"])
    assert set(PREFECT_SERVER_ENV) <= server


def test_compose_runs_the_tables_worker_commands() -> None:
    services = _compose()["services"]
    workers = {p.name: list(p.argv) for p in role("worker").processes}
    assert services["task-worker"]["command"] == workers["task-worker"]
    assert services["cpu-worker"]["command"][:5] == workers["cpu-worker"][:5]
