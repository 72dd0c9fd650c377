"""The stack a benchmark runs against: its own moto S3 server and Prefect server on free
ports, SQLite manifest, no Redis (one machine), all under a throwaway directory."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.processes import (  # noqa: E402
    drain_prefect_clients,
    free_port,
    start_moto,
    start_prefect_server,
)


@contextmanager
def bench_stack(name: str, env: dict[str, str] | None = None) -> Iterator[Path]:
    """Start the servers, point this process's environment at them, yield the work dir."""
    work = Path(tempfile.mkdtemp(prefix=f"dailies-bench-{name}-"))
    moto_port, prefect_port = free_port(), free_port()
    for leaked in ("DAILIES_DATABASE_URL", "DAILIES_REDIS_URL", "AWS_PROFILE"):
        os.environ.pop(leaked, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{moto_port}",
            "DAILIES_HOME": str(work / "home"),
            "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
            "PREFECT_HOME": str(work / "prefect-client"),
            "PREFECT_LOCAL_STORAGE_PATH": str(work / "prefect-results"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            **(env or {}),
        }
    )
    services = [start_moto(moto_port, work / "logs")]
    try:
        services.append(start_prefect_server(prefect_port, work / "prefect-server", work / "logs"))
        yield work
    finally:
        drain_prefect_clients()
        for service in reversed(services):
            service.stop()
        shutil.rmtree(work, ignore_errors=True)
