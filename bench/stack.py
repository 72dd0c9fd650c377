"""The stack a benchmark runs against: its own S3 (a moto server, or a Ceph RGW on bluestore
as `dailies up --store rgw` runs it) and Prefect server on free ports, SQLite catalog, no
Redis (one machine), all under a throwaway directory."""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.environment import apply_environment, throwaway_environment  # noqa: E402
from ops.processes import (  # noqa: E402
    drain_prefect_clients,
    free_port,
    start_moto,
    start_prefect_server,
)


@contextmanager
def bench_stack(
    name: str, env: dict[str, str] | None = None, store: str = "moto"
) -> Iterator[Path]:
    """Start the servers, point this process's environment at them, yield the work dir."""
    work = Path(tempfile.mkdtemp(prefix=f"dailies-bench-{name}-"))
    s3_port, prefect_port = free_port(), free_port()
    # RGW checks signatures: the user start_rgw makes has these keys (moto takes any).
    keys = "bench" if store == "moto" else secrets.token_hex(12)
    apply_environment(
        throwaway_environment(
            work,
            s3_port,
            prefect_port,
            keys,
            extra={"PREFECT_LOGGING_LEVEL": "WARNING", **(env or {})},
        ),
        # SQLite in the work dir and no Redis, whatever the shell names.
        unset=("DAILIES_DATABASE_URL", "DAILIES_REDIS_URL", "AWS_PROFILE"),
    )
    services = [_start_store(store, s3_port, work, keys)]
    try:
        services.append(start_prefect_server(prefect_port, work / "prefect-server", work / "logs"))
        yield work
    finally:
        drain_prefect_clients()
        for service in reversed(services):
            service.stop()
        shutil.rmtree(work, ignore_errors=True)


def _start_store(store: str, port: int, work: Path, keys: str) -> Any:
    if store == "moto":
        return start_moto(port, work / "logs")
    if store != "rgw":
        raise ValueError(f"store must be moto or rgw, not {store!r}")
    from ops.rgw import bluestore_bytes, start_rgw

    # As `dailies up --store rgw` runs it: bluestore on a sparse file, masters on disk.
    gateway = start_rgw(
        work / "rgw", port, store_bytes=bluestore_bytes(shutil.disk_usage(work).free),
        objectstore="bluestore", access_key=keys, secret_key=keys,
    )  # fmt: skip
    return gateway
