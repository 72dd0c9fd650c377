"""The stack a benchmark runs against: its own moto S3 server and Prefect server on free
ports, SQLite catalog, no Redis (one machine), all under a throwaway directory."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.environment import apply_environment, throwaway_environment  # noqa: E402
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
    apply_environment(
        throwaway_environment(
            work,
            moto_port,
            prefect_port,
            "bench",
            extra={"PREFECT_LOGGING_LEVEL": "WARNING", **(env or {})},
        ),
        # SQLite in the work dir and no Redis, whatever the shell names.
        unset=("DAILIES_DATABASE_URL", "DAILIES_REDIS_URL", "AWS_PROFILE"),
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
