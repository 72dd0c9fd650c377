"""What only works on one machine, said before a process of a fleet starts work.

A process whose Prefect API is on another host is one of several hosts. Then a setting left
to its single-machine default is a bug that shows up only later, elsewhere, and rarely: a
grant secret made in this host's home that no edge knows, a `.delay()`'s parameters written to
this host's disk where no task worker reads them, file locks no other host sees, a SQLite
catalog of its own. Each check gives one line naming the setting and what to set it to.
Pure: settings and the environment in, lines out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from dailies.settings import Settings

GRANT_SECRET = "DAILIES_PREVIEW_GRANT_SECRET"
TASK_STORAGE = "PREFECT_TASKS_SCHEDULING_DEFAULT_STORAGE_BLOCK"
RESULT_STORAGE = "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK"
REDIS = "DAILIES_REDIS_URL"
DATABASE = "DAILIES_DATABASE_URL"
ALL = (GRANT_SECRET, TASK_STORAGE, RESULT_STORAGE, REDIS, DATABASE)

WHY = {
    GRANT_SECRET: "the API signs grants and every edge checks them with one key; unset, each "
    "host makes its own in its home; set the same secret on every API and edge host",
    TASK_STORAGE: "a first rendition's parameters would be written to this host's disk, where "
    "a task worker on another host cannot read them; set it to s3-bucket/dailies-results "
    "(`dailies bootstrap` saves that block)",
    RESULT_STORAGE: "task results would be kept on this host's disk, where no other host finds "
    "them; set it to s3-bucket/dailies-results (`dailies bootstrap` saves that block)",
    REDIS: "locks and single-flight would be this host's alone; set the Redis every host uses",
    DATABASE: "the catalog would be a SQLite file of this host's; set the Postgres every host uses",
}


def is_remote(url: str | None) -> bool:
    """Whether a URL names another host (not loopback, not this host by name)."""
    host = urlsplit(url or "").hostname
    if not host or host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: another host, as far as we can tell


def single_host_settings(
    settings: Settings, env: Mapping[str, str], needed: Collection[str] = ALL
) -> list[str]:
    """The lines to print, one per setting in `needed` that is left to a single machine's
    default, when this process's Prefect API is on another host; none otherwise."""
    prefect = env.get("PREFECT_API_URL")
    if not is_remote(prefect):
        return []
    left = {
        GRANT_SECRET: settings.preview_grant_secret is None,
        TASK_STORAGE: not env.get(TASK_STORAGE),
        RESULT_STORAGE: not env.get(RESULT_STORAGE),
        REDIS: settings.redis_url is None,
        DATABASE: not (settings.database_url or "").startswith("postgresql"),
    }
    return [
        f"{name} is not set, and Prefect is on another host ({prefect}): {WHY[name]}"
        for name in needed
        if left[name]
    ]
