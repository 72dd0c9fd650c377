"""The `dailies` command line."""

from __future__ import annotations

import contextlib
import enum
import json
import shlex
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="dailies: masters in, previews out.", no_args_is_help=True)


class Encoder(enum.StrEnum):
    """Typer shows these as the option's choices and refuses anything else."""

    AUTO = "auto"
    NVENC = "nvenc"
    CPU = "cpu"


EncoderOption = typer.Option(
    Encoder.AUTO, help="auto (NVENC if it works here, else libx264), nvenc or cpu"
)

# These start or read a stack themselves rather than adopt the running one.
_OWN_STACK = {"up", "demo", "env", "edge"}


@app.callback()
def _use_running_stack(ctx: typer.Context) -> None:
    """Every command talks to the stack `dailies up` runs in this DAILIES_HOME, if any."""
    if ctx.invoked_subcommand in _OWN_STACK:
        return
    from dailies.settings import Settings
    from ops.up import adopt, running_stack

    state = running_stack(Settings().home)
    if state is not None:
        adopt(state)


def _print(result: Any) -> None:
    typer.echo(json.dumps(result, indent=2, default=str))


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@contextmanager
def _expected_errors(what: str) -> Iterator[None]:
    """What a person can act on is one line and a non-zero exit, never a traceback."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from dailies.errors import DailiesError

    try:
        yield
    except DailiesError as exc:
        raise _fail(f"{what}: {exc}") from exc
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise _fail(
            f"{what}: the database is not ready ({reason}); start `dailies up` or run "
            "`dailies bootstrap` first"
        ) from exc


def _require_database() -> None:
    """Checked before anything slow: an embedded SQLite file that is not there means no stack
    was ever started here (and connecting would leave a stray empty database behind)."""
    from dailies.settings import get_settings

    url = get_settings().resolved_database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise _fail(
                f"no dailies database at {path}: start the stack with `dailies up` (or set "
                "DAILIES_DATABASE_URL and run `dailies bootstrap`)"
            )


@app.command("env")
def env_command() -> None:
    """Print the running stack's environment as shell exports, for Prefect's own CLI:
    `eval "$(dailies env)"` then `prefect deployment ls`."""
    from dailies.settings import Settings
    from ops.up import running_stack

    home = Settings().home
    state = running_stack(home)
    if state is None:
        raise _fail(f"no stack is running for {home}: start one with `dailies up`", 1)
    for name, value in sorted(dict(state["env"]).items()):
        typer.echo(f"export {name}={shlex.quote(str(value))}")


@app.command()
def bootstrap(
    deploy: bool | None = typer.Option(
        None,
        help="create work pools and deploy prefect.yaml (default: when PREFECT_API_URL is set)",
    ),
) -> None:
    """Buckets (masters with Object Lock + versioning), migrations, work pools from
    work_pools/, the result storage block and every deployment in prefect.yaml. Idempotent."""
    from prefect.settings import get_current_settings

    from dailies.settings import get_settings
    from ops.bootstrap import bootstrap as run_bootstrap

    if deploy is None:
        # Deploying to Prefect's throwaway ephemeral server would be lost at exit.
        deploy = bool(get_current_settings().api.url)
    _print(run_bootstrap(get_settings(), deploy=deploy))


@app.command()
def promote(
    staging_key: str = typer.Argument(..., help="key in the staging bucket, under uploads/"),
    sha256: str = typer.Argument(..., help="the master's sha256 (64 hex characters)"),
    asset_id: str | None = typer.Option(None, help="link this asset id to the master"),
) -> None:
    """Run the promotion flow in this CLI process (not on a worker); print its result.

    The flow runs here, in this command's own Python process, with this
    machine's access to S3 and the database. No deployment, work pool or
    worker is involved; Prefect still records the run. The API launches
    the same flow through the promote-master deployment instead."""
    from dailies.promotion_rules import validate_promotion_request
    from flows.promote import promote_master

    with _expected_errors("promotion refused"):
        validate_promotion_request(staging_key, sha256)
    _require_database()
    asset = {"asset_id": asset_id} if asset_id else None
    try:
        result = promote_master(staging_key, sha256, asset)
    except Exception as exc:  # the flow run already recorded why; say it plainly
        typer.secho(f"promotion failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    _print(result)


@app.command()
def preview(
    sha256: str = typer.Argument(..., help="the promoted master's sha256"),
    encoder: Encoder = EncoderOption,
) -> None:
    """Build the master's previews in this CLI process (not on a worker), with a progress bar.

    The HLS ladder, MP4, poster and storyboard are encoded here, in this
    command's own Python process, with this machine's ffmpeg and encoder.
    No deployment, work pool or worker is involved; Prefect still records
    the run. The API launches the same flow through the preview-gpu and
    preview-cpu deployments instead."""
    from dailies.clients import session_scope
    from dailies.db import masters
    from dailies.previews.request import validate_preview_request

    with _expected_errors("preview refused"):
        request = validate_preview_request(sha256, encoder.value)
    _require_database()
    with _expected_errors("preview refused"), session_scope() as session:
        if masters.get_master(session, request.sha256) is None:
            raise _fail(f"preview refused: no promoted master with sha256 {request.sha256}")
    try:
        result = _preview_with_progress(sha256, encoder)
    except Exception as exc:  # the flow recorded why on the previews row; say it plainly
        typer.secho(f"preview failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    _print(result)


def _preview_with_progress(sha256: str, encoder: Encoder) -> dict[str, Any]:
    """Run the flow in a thread; draw the previews row's progress (what the API shows)."""
    import threading

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from dailies.clients import session_scope
    from dailies.db import previews
    from flows.preview import build_preview

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = build_preview(sha256, encoder.value)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="build-preview", daemon=True)
    percent = TextColumn("{task.percentage:>3.0f}%")
    columns = (TextColumn("{task.description}"), BarColumn(), percent)
    with Progress(*columns, TimeElapsedColumn(), transient=True) as bar:
        task_id = bar.add_task("starting", total=1.0)
        worker.start()
        sha = sha256.strip().lower()
        while worker.is_alive():
            worker.join(0.5)
            with session_scope() as session:
                row = previews.get_preview(session, sha)
                if row is not None:
                    bar.update(task_id, description=row.status, completed=row.progress or 0.0)
    if "error" in outcome:
        raise outcome["error"]
    return dict(outcome["result"])


@app.command()
def edge(
    port: int | None = typer.Option(None, help="loopback port (default: DAILIES_EDGE_PORT, 8080)"),
    api: list[str] | None = typer.Option(  # noqa: B008 - typer reads options from defaults
        None,
        help="FastAPI upstream for /api/, e.g. http://127.0.0.1:8000; repeat it for each "
        "replica (none: /api/ is 503)",
    ),
) -> None:
    """Run the edge cache (nginx) in the foreground in front of the configured S3 endpoint's
    previews bucket; Ctrl-C stops it."""
    from dailies.settings import get_settings
    from ops.edge import s3_origin_for, start_edge
    from ops.errors import EdgeError

    settings = get_settings()
    try:
        service = start_edge(
            settings,
            port=port or settings.edge_port,
            api_upstream=api,
            run_dir=settings.home / "edge",
            log_dir=settings.home / "logs",
        )
    except EdgeError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"edge on {service.url} -> {s3_origin_for(settings)}/{settings.previews_bucket} "
        f"(cache {service.extra['cache_dir']}, log {service.log_path}); Ctrl-C stops it"
    )
    # nginx runs in its own session, so it would outlive a terminated parent: turn
    # SIGTERM (a supervisor stopping us) into the same clean stop as Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        code = service.proc.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        service.stop()
    if code:
        typer.secho(f"nginx exited with {code}; see {service.log_path}", fg=typer.colors.RED)
        raise typer.Exit(1)


@app.command("task-worker")
def task_worker(
    limit: int = typer.Option(4, help="first renditions at once in this process"),
) -> None:
    """Serve the first rendition (Prefect's task worker, as `prefect task serve
    tasks/first_rendition.py:publish_first_rendition`), warmed up before it subscribes, so
    the first reviewer after a start does not wait for its imports and connections."""
    import asyncio

    from prefect.task_worker import aserve

    from tasks.first_rendition import publish_first_rendition, warm_up

    warm_up()
    # As `prefect task serve` runs it: Prefect's own handling of SIGTERM and Ctrl-C.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(aserve(publish_first_rendition, limit=limit))


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


PORT_HELP = "{what} port (default {default}, or a free one when that is taken; 0: any free)"


def _ports(
    edge: int | None, api: int | None, prefect: int | None, s3: int | None
) -> dict[str, int | None]:
    return {"edge": edge, "api": api, "prefect": prefect, "s3": s3}


EdgePort = typer.Option(None, "--edge-port", help=PORT_HELP.format(what="edge", default=8080))
ApiPort = typer.Option(None, "--api-port", help=PORT_HELP.format(what="API", default=8000))
PrefectPort = typer.Option(
    None, "--prefect-port", help=PORT_HELP.format(what="Prefect server", default=4200)
)
S3Port = typer.Option(None, "--s3-port", help="moto S3 port (default: a free one)")
GpuOption = typer.Option(None, "--gpu/--no-gpu", help="GPU worker (default: when NVENC works)")


class Store(enum.StrEnum):
    MOTO = "moto"
    RGW = "rgw"


StoreOption = typer.Option(
    Store.MOTO, help="the S3 started when AWS_ENDPOINT_URL_S3 is unset: moto, or a Ceph RGW"
)
MasterFile = typer.Argument(None, help="a master to use (default: a generated sample)")


@app.command()
def up(
    edge_port: int | None = EdgePort,
    api_port: int | None = ApiPort,
    prefect_port: int | None = PrefectPort,
    s3_port: int | None = S3Port,
    gpu: bool | None = GpuOption,
    store: Store = StoreOption,
) -> None:
    """Run the whole stack in the foreground on embedded defaults (moto S3, Prefect server,
    SQLite, API, nginx edge, workers); Ctrl-C stops it. State lives under DAILIES_HOME.
    `--store rgw` runs a throw-away Ceph RGW instead of moto: a real S3 implementation that
    verifies signatures and enforces Object Lock."""
    from dailies.errors import DailiesError
    from dailies.settings import Settings
    from ops.up import up as run_up

    try:
        ports = _ports(edge_port, api_port, prefect_port, s3_port)
        run_up(Settings().home, ports, gpu, typer.echo, store.value)
    except (DailiesError, TimeoutError, RuntimeError) as exc:
        typer.secho(f"dailies up failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


@app.command()
def demo(
    file: Path | None = MasterFile,
    keep: bool = typer.Option(False, "--keep", help="leave the stack up (foreground) afterwards"),
    sample_seconds: float = typer.Option(8.0, min=1, max=60, help="length of the sample"),
    timeout: float = typer.Option(300.0, help="seconds to wait for each of promote and preview"),
    edge_port: int | None = EdgePort,
    api_port: int | None = ApiPort,
    prefect_port: int | None = PrefectPort,
    s3_port: int | None = S3Port,
    gpu: bool | None = GpuOption,
) -> None:
    """Upload (presigned multipart) → promote → preview through the edge → print the player
    URL, the Prefect UI URL and each stage's time. Uses the stack `dailies up` runs, or
    starts one for the demo (stopped afterwards unless --keep). Exit 0 only when playable."""
    from dailies.settings import Settings
    from ops.demo import run_demo

    if file is not None and not file.is_file():
        raise _fail(f"no such master file: {file}")
    ports = _ports(edge_port, api_port, prefect_port, s3_port)
    code = run_demo(file, Settings().home, keep, ports, gpu, sample_seconds, timeout)
    raise typer.Exit(code)


keys_app = typer.Typer(help="API tokens: create (printed once, stored hashed), list, revoke.")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: str = typer.Option(..., help="reviewer, editor or admin (each includes the previous)"),
    name: str | None = typer.Option(None, help="who or what uses it, shown in listings"),
) -> None:
    """Print a new API token; only its hash is stored, so keep it now."""
    from dailies.clients import session_scope
    from dailies.db import api_keys

    _require_database()
    with _expected_errors("no key created"), session_scope() as session:
        _, token = api_keys.create_key(session, role, name)
    typer.echo(token)


@keys_app.command("revoke")
def keys_revoke(
    key: str = typer.Argument(..., help="the key's id, its listed prefix, or the token"),
) -> None:
    """Revoke a token; requests with it get 401 from then on."""
    from dailies.clients import session_scope
    from dailies.db import api_keys

    _require_database()
    with _expected_errors("nothing revoked"), session_scope() as session:
        revoked = api_keys.revoke_key(session, key)
    if not revoked:
        raise _fail(f"no active key matches {key!r}", 1)
    typer.echo(f"revoked {revoked} key(s)")


@keys_app.command("list")
def keys_list() -> None:
    """List keys (id, prefix, role, name, revoked); never the tokens."""
    from dailies.clients import session_scope
    from dailies.db import api_keys

    _require_database()
    with _expected_errors("cannot list keys"), session_scope() as session:
        rows = [
            {
                "id": k.id,
                "prefix": k.prefix,
                "role": k.role,
                "name": k.name,
                "created_at": k.created_at,
                "revoked_at": k.revoked_at,
            }
            for k in api_keys.list_keys(session)
        ]
    _print(rows)


@app.command()
def audit(
    rehash_budget_bytes: int | None = typer.Option(
        None, help="bytes to re-hash this run (default: DAILIES_AUDIT_REHASH_BUDGET_BYTES)"
    ),
) -> None:
    """Audit the masters bucket against the catalog in this CLI process (not on a worker);
    exit 1 when anything is found.

    The audit runs here, in this command's own Python process. No
    deployment, work pool or worker is involved; Prefect still records the
    run. The integrity-audit deployment runs the same flow on a worker, on
    its schedule."""
    import threading

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from flows.audit import audit_masters

    _require_database()
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["state"] = audit_masters(rehash_budget_bytes, return_state=True)

    worker = threading.Thread(target=run, name="integrity-audit", daemon=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        bar.add_task("listing, checking retention, re-hashing", total=None)
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    state = outcome["state"]
    typer.echo(state.message or state.name)
    if not state.is_completed():
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
