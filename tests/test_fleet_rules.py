"""What only works on one machine is refused, one line per setting, when Prefect is on another
host (dailies/fleet_rules.py); the API and the edge refuse to start on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dailies.fleet_rules import ALL, is_remote, single_host_settings
from dailies.settings import Settings

REMOTE = {"PREFECT_API_URL": "http://10.9.9.9:4200/api"}
SHARED = {
    "preview_grant_secret": "s" * 32,
    "redis_url": "redis://10.9.9.8:6379/1",
    "database_url": "postgresql+psycopg://postgres@10.9.9.8/dailies",
}
# What this machine's defaults are (the test session's environment names a Redis and Postgres).
ALONE = {"preview_grant_secret": None, "redis_url": None, "database_url": None}
BLOCKS = {
    "PREFECT_TASKS_SCHEDULING_DEFAULT_STORAGE_BLOCK": "s3-bucket/dailies-results",
    "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": "s3-bucket/dailies-results",
}


@pytest.mark.parametrize(
    ("url", "remote"),
    [
        ("http://127.0.0.1:4200/api", False),
        ("http://localhost:4200/api", False),
        ("http://[::1]:4200/api", False),
        (None, False),
        ("http://10.1.2.3:4200/api", True),
        ("https://prefect.example.com/api", True),
    ],
)
def test_remote_means_another_host(url: str | None, remote: bool) -> None:
    assert is_remote(url) is remote


def test_one_machine_needs_nothing_shared() -> None:
    local = {"PREFECT_API_URL": "http://127.0.0.1:4200/api"}
    assert single_host_settings(Settings(**ALONE), local) == []  # type: ignore[arg-type]


def test_each_single_machine_default_is_named_once_prefect_is_elsewhere() -> None:
    lines = single_host_settings(Settings(**ALONE), REMOTE)  # type: ignore[arg-type]
    assert [line.split(" ", 1)[0] for line in lines] == list(ALL)
    assert all("10.9.9.9" in line and "\n" not in line for line in lines)
    assert single_host_settings(Settings(**SHARED), {**REMOTE, **BLOCKS}) == []  # type: ignore[arg-type]
    # A SQLite catalog is this host's own, even when named.
    sqlite = Settings(**{**SHARED, "database_url": "sqlite:////srv/dailies.db"})  # type: ignore[arg-type]
    assert [x.split(" ", 1)[0] for x in single_host_settings(sqlite, {**REMOTE, **BLOCKS})] == [
        "DAILIES_DATABASE_URL"
    ]


def test_the_api_refuses_to_start_on_this_hosts_defaults(tmp_path: Path) -> None:
    """`uvicorn api.app:app` with Prefect on another host and no shared settings: exit 1 and
    a line per setting, before anything connects (no address here is ever dialled)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DAILIES_", "PREFECT_TASKS_", "PREFECT_RESULTS_"))}  # fmt: skip
    env.update(REMOTE, DAILIES_HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("dailies API not started: DAILIES_PREVIEW_GRANT_SECRET is not set")
    assert [line.split(" ", 1)[0] for line in lines[1:]] == list(ALL[1:]), done.stderr


def test_the_edge_refuses_a_player_without_hls_js_and_a_remote_api_without_a_shared_key(
    tmp_path: Path,
) -> None:
    from ops.edge import start_edge
    from ops.errors import EdgeError, PlayerIncomplete

    player = tmp_path / "player"
    player.mkdir()
    common = {"port": 1, "run_dir": tmp_path / "run", "log_dir": tmp_path / "logs"}
    with pytest.raises(PlayerIncomplete, match="hls.min.js is missing"):
        start_edge(Settings(), api_upstream=None, player_dir=player, **common)  # type: ignore[arg-type]
    (player / "vendor").mkdir()
    (player / "vendor" / "hls.min.js").write_text("")
    with pytest.raises(EdgeError, match="DAILIES_PREVIEW_GRANT_SECRET is not set, and the API"):
        start_edge(
            Settings(), api_upstream=["http://127.0.0.1:8000", "10.9.9.7:8000"],
            player_dir=player, **common,  # type: ignore[arg-type]
        )  # fmt: skip
