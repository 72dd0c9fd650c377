"""Preview-trigger latency under a burst: N concurrent `POST /api/preview` for one sha.

Brings up its own stack (moto, a fresh Postgres database, Redis, a Prefect server with the
deployments registered), serves `uvicorn api.app:app` in a separate process, opens N
keep-alive connections, then fires the burst. Latency is per request, from the first byte
sent to the last byte read, measured with a bare asyncio HTTP/1.1 client so the client's
own overhead stays small. Writes its section of bench/RESULTS.md.

    uv run python bench/api.py [--requests 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ops.processes import free_port, start_moto, start_prefect_server, wait_http  # noqa: E402

PG_ADMIN = os.environ.get("DAILIES_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_DB = os.environ.get("DAILIES_BENCH_REDIS_DB", "14")


def stack_env(run_dir: Path, pg_db: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}",
        "DAILIES_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_db}",
        "DAILIES_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "DAILIES_HOME": str(run_dir / "home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
        "PREFECT_HOME": str(run_dir / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }


async def register_deployments() -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    async with get_client() as client:
        for pool in ("gpu", "cpu"):
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        preview = await client.create_flow_from_name("build-preview")
        for name, pool in (("preview-gpu", "gpu"), ("preview-cpu", "cpu")):
            await client.create_deployment(
                flow_id=preview,
                name=name,
                work_pool_name=pool,
                entrypoint="flows/preview.py:build_preview",
            )


def seed(settings: Any, masters: int) -> tuple[str, list[str]]:
    """A reviewer token and `masters` masters rows (each burst gets a fresh sha)."""
    from dailies.clients import session_scope
    from dailies.db import api_keys
    from dailies.db.models import Master

    shas = [secrets.token_hex(32) for _ in range(masters)]
    with session_scope(settings) as session:
        _, token = api_keys.create_key(session, "reviewer", name="bench")
        for sha in shas:
            session.add(
                Master(
                    sha256=sha,
                    size_bytes=1,
                    masters_key=sha,
                    retention_mode="GOVERNANCE",
                    retain_until=datetime.now(UTC) + timedelta(days=1),
                    source_staging_key=f"uploads/{uuid.uuid4().hex}/bench.mov",
                )
            )
    return token, shas


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for JSON answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(
            int(v)
            for k, _, v in (line.partition(":") for line in lines[1:])
            if k.lower() == "content-length"
        )
        body = await self.reader.readexactly(length)
        return status, body, time.perf_counter() - started


def raw_request(method: str, path: str, host: str, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process: a cost measure that a busy, shared machine
    distorts far less than wall-clock latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def burst(port: int, pid: int, token: str, sha: str, n: int) -> dict[str, Any]:
    conns = [Connection(*await asyncio.open_connection("127.0.0.1", port)) for _ in range(n)]
    raw = raw_request("POST", "/api/preview", f"127.0.0.1:{port}", token, {"sha": sha})
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    answers = await asyncio.gather(*(c.request(raw) for c in conns))
    wall = time.perf_counter() - started
    await asyncio.sleep(0.5)  # let the server finish its bookkeeping before reading its CPU
    server_cpu = cpu_seconds(pid) - cpu_before
    for conn in conns:
        conn.writer.close()
    latencies = sorted(a[2] for a in answers)
    run_ids = {json.loads(a[1]).get("flow_run_id") for a in answers} - {None}
    return {
        "statuses": sorted({a[0] for a in answers}),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": 1000 * latencies[-1],
        "wall_s": wall,
        "cpu_ms_per_request": 1000 * server_cpu / n,
        "flow_run_ids": len(run_ids),
    }


def run_bench(requests: int, rounds: int) -> list[dict[str, Any]]:
    run_dir = Path(tempfile.mkdtemp(prefix="dailies-bench-api-"))
    pg_db = f"dailies_bench_{uuid.uuid4().hex[:8]}"
    env = stack_env(run_dir, pg_db)
    os.environ.update(env)
    import psycopg

    from dailies.clients import reset_clients
    from dailies.settings import get_settings
    from ops.bootstrap import bootstrap

    services = []
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{pg_db}"')
    api = None
    try:
        services.append(start_moto(int(env["AWS_ENDPOINT_URL_S3"].rsplit(":", 1)[1]), run_dir))
        prefect_port = int(env["PREFECT_API_URL"].split(":")[2].split("/")[0])
        services.append(start_prefect_server(prefect_port, run_dir / "prefect", run_dir))
        reset_clients()
        settings = get_settings()
        bootstrap(settings)
        asyncio.run(register_deployments())
        token, shas = seed(settings, rounds)
        port = free_port()
        api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--backlog",
                "4096",
            ],
            cwd=ROOT,
            # The bench's one token sends every request; the default limit would 429 it.
            env={**os.environ, "DAILIES_RATE_LIMIT_REQUESTS": "1000000"},
            start_new_session=True,
        )
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, api)
        results = []
        for sha in shas:
            # A fresh sha (one caller launches, the rest follow), then the same sha again
            # (already queued: the edge's steady state while a preview builds).
            results.append(
                {"case": "fresh", **asyncio.run(burst(port, api.pid, token, sha, requests))}
            )
            results.append(
                {"case": "queued", **asyncio.run(burst(port, api.pid, token, sha, requests))}
            )
        return results
    finally:
        if api is not None:
            api.terminate()
            api.wait(15)
        for service in reversed(services):
            service.stop()
        reset_clients()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')


def report(results: list[dict[str, Any]], requests: int) -> str:
    rows = "\n".join(
        f"| {i // 2 + 1} | {r['case']} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
        f"{r['max_ms']:.0f} | {r['wall_s']:.2f} | {r['cpu_ms_per_request']:.1f} | "
        f"{r['flow_run_ids']} | "
        f"{','.join(map(str, r['statuses']))} |"
        for i, r in enumerate(results)
    )
    return (
        f"{requests} concurrent `POST /api/preview` per burst, one uvicorn worker, Redis "
        "single-flight, Postgres, Prefect server, client on the same shared machine "
        f"({platform.machine()}, {os.cpu_count()} CPUs). `fresh`: a sha with no preview "
        "(one request launches the run, the others wait for its id); `queued`: the same "
        "burst again once the run exists (the edge's steady state while a preview builds). "
        "Latency is per request, first byte sent to last byte read, over pre-opened "
        "keep-alive connections; server CPU per request is the steadier number on a busy "
        "host.\n\n"
        "| round | sha | p50 ms | p99 ms | max ms | burst wall s | server CPU ms/req "
        "| flow runs | statuses |\n"
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
        f"{rows}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    args = parser.parse_args()
    results = run_bench(args.requests, args.rounds)
    text = report(results, args.requests)
    print(text)
    if not args.no_write:
        from results import write_section  # bench/results.py, shared by the benches

        write_section("api: preview trigger burst", text)


if __name__ == "__main__":
    main()
