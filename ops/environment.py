"""The environment of a stack: the variables that point a process, its children and
dailies' settings at one S3, one Prefect server, one catalog database and one Redis.

`stack_environment` is the one writer of those variables. `dailies up` gets its own through
`embedded_environment` (which services to start, what the operator's shell already names),
the benches (bench/stack.py) and the tests (tests/conftest.py) theirs through
`throwaway_environment`; all three set this process's through `apply_environment`.

Pure apart from `apply_environment`, and stdlib only: the tests' conftest imports this
before anything may import prefect or read settings.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ops.errors import StackError

LOCALHOST = "127.0.0.1"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class LocalS3:
    """An S3 this stack starts on this machine (moto, or a Ceph RGW) and the keys to sign with."""

    port: int
    access_key: str
    secret_key: str


def stack_environment(
    *,
    home: Path,
    prefect_home: Path,
    region: str = DEFAULT_REGION,
    s3: LocalS3 | None = None,
    prefect_port: int | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
    prefect_results: Path | None = None,
    headless: bool = False,
    edge_port: int | None = None,
    edge_cache_dir: Path | None = None,
    scratch_dir: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables for a stack; None (or False) leaves a variable to what is configured.

    home: DAILIES_HOME; prefect_home: the Prefect client's own files; s3 / prefect_port: the
    S3 and the Prefect server this stack starts here; prefect_results: where flows that are
    not deployed keep results (the tests' and benches' in-process runs); headless: no
    Prefect UI (nobody looks at the tests' or a bench's server); extra: a caller's own
    tunables (a bench's encoder preset, the tests' log batching), which win."""
    env = {
        "DAILIES_HOME": str(home),
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "AWS_DEFAULT_REGION": region,
    }
    if s3 is not None:
        env["AWS_ENDPOINT_URL_S3"] = f"http://{LOCALHOST}:{s3.port}"
        env["AWS_ACCESS_KEY_ID"] = s3.access_key
        env["AWS_SECRET_ACCESS_KEY"] = s3.secret_key
    if prefect_port is not None:
        env["PREFECT_API_URL"] = f"http://{LOCALHOST}:{prefect_port}/api"
    if database_url is not None:
        env["DAILIES_DATABASE_URL"] = database_url
    if redis_url is not None:
        env["DAILIES_REDIS_URL"] = redis_url
    if prefect_results is not None:
        env["PREFECT_LOCAL_STORAGE_PATH"] = str(prefect_results)
    if headless:
        env["PREFECT_UI_ENABLED"] = "false"
    if edge_port is not None:
        env["DAILIES_EDGE_URL"] = f"http://{LOCALHOST}:{edge_port}"
    if edge_cache_dir is not None:
        env["DAILIES_EDGE_CACHE_DIR"] = str(edge_cache_dir)
    if scratch_dir is not None:
        env["DAILIES_SCRATCH_DIR"] = scratch_dir
    return {**env, **(extra or {})}


def embedded_environment(
    home: Path, ports: dict[str, int], base: Mapping[str, str], store: str = "moto"
) -> tuple[dict[str, str], dict[str, bool]]:
    """`dailies up`: what the stack's processes (and this one) get, given the environment it
    starts in (`base`); and which services it must start itself. `store` is the S3 started
    when none is configured: moto, or a Ceph RGW (ops/rgw.py)."""
    stack_dir = (home / "stack").resolve()
    start = {"s3": not base.get("AWS_ENDPOINT_URL_S3"), "prefect": not base.get("PREFECT_API_URL")}
    if store != "moto" and not start["s3"]:
        raise StackError(
            f"--store {store} starts its own S3, but AWS_ENDPOINT_URL_S3 names one: unset it"
        )
    s3 = None
    if start["s3"] and store == "rgw":
        # RGW checks signatures: the user start_rgw makes has exactly these keys.
        s3 = LocalS3(ports["s3"], "dailies", secrets.token_urlsafe(30))
    elif start["s3"]:
        s3 = LocalS3(
            ports["s3"],
            base.get("AWS_ACCESS_KEY_ID", "testing"),
            base.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )
    env = stack_environment(
        home=home.resolve(),
        prefect_home=stack_dir / "prefect-client",
        region=base.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
        s3=s3,
        prefect_port=ports["prefect"] if start["prefect"] else None,
        database_url=(
            None if base.get("DAILIES_DATABASE_URL") else f"sqlite:///{stack_dir / 'dailies.db'}"
        ),
        edge_port=ports["edge"],
        edge_cache_dir=(
            stack_dir / "edge-cache"
            if start["s3"] and not base.get("DAILIES_EDGE_CACHE_DIR")
            else None
        ),
        # Scratch of the stack's own builds, swept at start: a killed run's copies go with it.
        scratch_dir=base.get("DAILIES_SCRATCH_DIR") or str(stack_dir / "scratch"),
        extra={
            # The player polls at the server's pace: 1 s, so playback starts about as soon
            # as the first playlist is published (the API's default of 5 s suits busier fleets).
            "DAILIES_PREVIEW_RETRY_AFTER_S": base.get("DAILIES_PREVIEW_RETRY_AFTER_S", "1"),
            **_moto_hashing(base, start["s3"] and store == "moto"),
        },
    )
    return env, start


def _moto_hashing(base: Mapping[str, str], moto: bool) -> dict[str, str]:
    """moto copies the whole object to answer any GET, ranged or not: promotion's parallel
    ranged GETs would cost a whole read (and a copy of the master in moto's memory) each.
    On the moto `dailies up` starts, one GET stream; the operator's setting wins."""
    if not moto:
        return {}
    return {"DAILIES_HASH_PARTS_IN_FLIGHT": base.get("DAILIES_HASH_PARTS_IN_FLIGHT", "1")}


def throwaway_environment(
    work: Path,
    s3_port: int,
    prefect_port: int,
    keys: str,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A stack in a throw-away folder (the tests', a bench's): moto on s3_port with `keys` as
    both of its keys (moto checks none), a headless Prefect server on prefect_port, dailies'
    home and Prefect's files in `work`."""
    return stack_environment(
        home=work / "home",
        prefect_home=work / "prefect-client",
        s3=LocalS3(s3_port, keys, keys),
        prefect_port=prefect_port,
        database_url=database_url,
        redis_url=redis_url,
        prefect_results=work / "prefect-results",
        headless=True,
        extra=extra,
    )


def apply_environment(env: Mapping[str, str], unset: Iterable[str] = ()) -> None:
    """Point this process (and the children it starts from now on) at a stack: `unset` goes
    first (what the operator's shell names that would lead elsewhere), then `env` is set."""
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(env)
