"""A stack of one's own: fresh Postgres database and buckets, same servers.

For tests that judge a whole bucket or table (the audit), where other tests' masters would
otherwise be in view.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from dailies.clients import reset_clients
from dailies.settings import Settings, get_settings
from ops.bootstrap import bootstrap

PG_ADMIN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def isolated_stack(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> Iterator[Settings]:
    admin_url = os.environ.get("DAILIES_TEST_PG_ADMIN", PG_ADMIN_DEFAULT)
    suffix = uuid.uuid4().hex[:8]
    db = f"dailies_iso_{suffix}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    env: dict[str, Any] = {
        "DAILIES_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
        "DAILIES_STAGING_BUCKET": f"staging-{suffix}",
        "DAILIES_MASTERS_BUCKET": f"masters-{suffix}",
        "DAILIES_PREVIEWS_BUCKET": f"previews-{suffix}",
        "DAILIES_DOCS_BUCKET": f"docs-{suffix}",
        **overrides,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    settings = get_settings()
    bootstrap(settings)
    try:
        yield settings
    finally:
        reset_clients()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
