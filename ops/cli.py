"""The `dailies` command line."""

from __future__ import annotations

import contextlib
import enum
import json
import shlex
import signal
from collections.abc import Callable, Iterator
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
_OWN_STACK = {"up", "demo", "env", "edge", "rgw"}


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


LocalOption = typer.Option(
    False,
    "--local",
    help="run the flow in this process, not on a worker (Prefect still records it)",
)


JsonOption = typer.Option(False, "--json", help="print the whole result as JSON (for scripts)")


def _followed(
    followed: Any, what: str, summary: Callable[[], str], result: Callable[[], Any] | None
) -> None:
    """The summary of a completed run (or, with `result`, all of it as JSON), or why it did
    not complete, in one line (exit 1)."""
    if not followed.completed:
        where = f"run {followed.run.name}: {followed.url}"
        raise _fail(f"{what} failed: {followed.failure()} ({where})", 1)
    if result is not None:
        _print({**result(), "flow_run_id": str(followed.run.id), "flow_run": followed.run.name})
    else:
        typer.echo(summary())


@app.command()
def promote(
    staging_key: str = typer.Argument(..., help="key in the staging bucket, under uploads/"),
    sha256: str = typer.Argument(..., help="the master's sha256 (64 hex characters)"),
    asset_id: str | None = typer.Option(None, help="link this asset id to the master"),
    local: bool = LocalOption,
    as_json: bool = JsonOption,
) -> None:
    """Promote a staged master: verify its sha256, copy it into the Object-Locked masters
    bucket, record it. Runs on a worker through the promote-master deployment (as the API
    launches it) and follows the run; --local runs the flow in this process."""
    from dailies.promotion_rules import validate_promotion_request
    from dailies.settings import get_settings
    from ops import launch

    with _expected_errors("promotion refused"):
        request = validate_promotion_request(staging_key, sha256)
    _require_database()
    asset = {"asset_id": asset_id} if asset_id else None
    settings = get_settings()
    if local:
        _promote_here(request.staging_key, request.sha256, asset, as_json)
        return
    with _expected_errors("promotion refused"):
        run = launch.launch_promotion(settings, request.staging_key, request.sha256, asset)
    followed = launch.follow(run, "promoting")
    _followed(
        followed, "promotion", lambda: launch.promotion_summary(settings, followed),
        (lambda: launch.promotion_result(settings, followed)) if as_json else None,
    )  # fmt: skip


def _promote_here(
    staging_key: str, sha256: str, asset: dict[str, Any] | None, as_json: bool
) -> None:
    from dailies.clients import s3_client
    from dailies.settings import get_settings
    from dailies.storage.staging import head_staging
    from flows.promote import promote_master

    settings = get_settings()
    with _expected_errors("promotion refused"):
        head_staging(s3_client(settings), settings.staging_bucket, staging_key)
    _quiet_prefect_console()
    try:
        result = promote_master(staging_key, sha256, asset)
    except Exception as exc:  # the flow run already recorded why; say it plainly
        raise _fail(f"promotion failed: {_first_line(exc)}", 1) from exc
    if as_json:
        _print(result)
        return
    from ops.launch import promoted_line

    typer.echo(promoted_line(settings, result))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _quiet_prefect_console() -> None:
    """A flow run in this process logs to the Prefect API (its page in the UI) only: its
    console lines (a traceback for a failure) would bury the one line we print."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", "dailies"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL + 1)


UploadFile = typer.Argument(..., help="the master to stage")


@app.command()
def upload(
    file: Path = UploadFile,
    api: str | None = typer.Option(None, help="the API's URL (default: the running stack's)"),
    token: str | None = typer.Option(
        None, envvar="DAILIES_TOKEN", help="an editor key (or DAILIES_TOKEN)", show_default=False
    ),
) -> None:
    """Stage a master for promotion as an editor would: through the API's presigned
    multipart upload, with a progress bar; run it again after an interruption to resume.
    Prints the staged key and the file's sha256 for `dailies promote`."""
    import httpx
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from dailies.settings import Settings
    from ops.up import running_stack
    from ops.upload import upload as send

    if not file.is_file():
        raise _fail(f"upload refused: no such file {file}")
    if not token:
        raise _fail("upload refused: an editor key is needed (--token or DAILIES_TOKEN); make "
                    "one with `uv run dailies keys create --role editor`")  # fmt: skip
    home = Settings().home
    state = running_stack(home)
    api = api or (state["urls"]["api"] if state is not None else None)
    if not api:
        raise _fail(f"upload refused: no stack is running for {home}: pass --api URL")
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with (
        httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c,
        _expected_errors("upload failed"),
        Progress(*columns, transient=True) as bar,
    ):
        task_id = bar.add_task("upload", total=file.stat().st_size)
        staged = send(file, c, home / "uploads", lambda n: bar.advance(task_id, n))
    again = (
        f", {staged.resumed_parts} part(s) from the interrupted run" if staged.resumed_parts else ""
    )
    typer.echo(f"staged {staged.key} ({staged.size_bytes} bytes{again}), sha256 {staged.sha256}")
    typer.echo(f"next: uv run dailies promote {shlex.quote(staged.key)} {staged.sha256}")


@app.command()
def preview(
    sha256: str = typer.Argument(..., help="the promoted master's sha256"),
    encoder: Encoder = EncoderOption,
    local: bool = LocalOption,
    as_json: bool = JsonOption,
) -> None:
    """Build the master's previews (HLS ladder, MP4, poster, storyboard). Runs on a worker
    through preview-cpu (--encoder cpu) or preview-gpu (nvenc/auto), as the API launches
    them, and follows the run with its progress; --local encodes in this process with this
    machine's ffmpeg."""
    from dailies.clients import session_scope
    from dailies.db import masters
    from dailies.previews.request import validate_preview_request
    from dailies.settings import get_settings
    from ops import launch

    with _expected_errors("preview refused"):
        request = validate_preview_request(sha256, encoder.value)
    _require_database()
    with _expected_errors("preview refused"), session_scope() as session:
        if masters.get_master(session, request.sha256) is None:
            raise _fail(f"preview refused: no promoted master with sha256 {request.sha256}")
    settings = get_settings()
    sha = request.sha256
    if local:
        _quiet_prefect_console()
        try:
            result = _preview_with_progress(sha, encoder)
        except Exception as exc:  # the flow recorded why on the previews row; say it plainly
            raise _fail(f"preview failed: {_first_line(exc)}", 1) from exc
        if as_json:
            _print(result)
            return
        from dailies.media.outputs import count_renditions

        kinds = [r["kind"] for r in result.get("renditions", [])]
        typer.echo(f"ready: {result.get('manifest_key')} ({count_renditions(kinds)}, "
                   f"{result.get('encoder')})")  # fmt: skip
        return
    with _expected_errors("preview refused"):
        run = launch.launch_preview(settings, sha, encoder.value)
    followed = launch.follow(run, "building", launch.preview_progress(settings, sha))
    _followed(
        followed, "preview", lambda: launch.preview_summary(settings, sha, followed),
        (lambda: launch.preview_result(settings, sha)) if as_json else None,
    )  # fmt: skip


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


class ObjectStore(enum.StrEnum):
    BLUESTORE = "bluestore"
    MEMSTORE = "memstore"


ObjectStoreOption = typer.Option(
    ObjectStore.BLUESTORE, help="bluestore: objects on disk (a sparse file); memstore: RAM"
)


@app.command()
def rgw(
    host: str = typer.Option("127.0.0.1", help="the address S3 clients reach this host on"),
    port: int = typer.Option(5000, help="the S3 port"),
    data: Path | None = typer.Option(  # noqa: B008 - typer reads options from defaults
        None, "--dir", help="the cluster's folder, made afresh (default: DAILIES_HOME/rgw)"
    ),
    objectstore: ObjectStore = ObjectStoreOption,
    access_key: str = typer.Option(..., envvar="AWS_ACCESS_KEY_ID", help="the S3 user's key"),
    secret_key: str = typer.Option(
        ..., envvar="AWS_SECRET_ACCESS_KEY", help="the S3 user's secret", show_default=False
    ),
) -> None:
    """Run a one-node Ceph RGW (monitor, OSD, gateway; ops/rgw.py) in the foreground, serving
    S3 on host:port to a user with these keys: the s3 host of a fleet. Ctrl-C stops it."""
    import shutil
    import subprocess

    from dailies.settings import get_settings
    from ops.errors import StackError
    from ops.rgw import MEMSTORE_BYTES, bluestore_bytes, start_rgw

    run_dir = (data or get_settings().home / "rgw").resolve()
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    # The daemons run in sessions of their own: a supervisor's SIGTERM reaches only this
    # process, which stops them (gateway first) as Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    on_disk = objectstore == ObjectStore.BLUESTORE
    size = bluestore_bytes(shutil.disk_usage(run_dir.parent).free) if on_disk else MEMSTORE_BYTES
    try:
        gateway = start_rgw(
            run_dir, port, objectstore=objectstore.value, address=host,
            access_key=access_key, secret_key=secret_key, store_bytes=size,
        )  # fmt: skip
    except StackError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo(f"rgw on {gateway.url} ({objectstore.value}, {run_dir}); Ctrl-C stops it")
    try:
        while not (ended := [s.name for s in gateway.services if s.proc.poll() is not None]):
            with contextlib.suppress(subprocess.TimeoutExpired):
                gateway.services[-1].proc.wait(5)
    except KeyboardInterrupt:
        return
    finally:
        gateway.stop()
    raise _fail(f"{', '.join(ended)} exited; see {run_dir / 'log'}", 1)


@app.command("worker")
def worker(
    pool: str = typer.Option(..., "--pool", help="the work pool to poll (cpu, gpu)"),
    name: str | None = typer.Option(None, help="the worker's name in the UI (default: random)"),
    limit: int | None = typer.Option(None, help="flow runs at once (default: no limit)"),
) -> None:
    """Prefect's process worker for a pool, as `prefect worker start --pool POOL`, except that
    SIGTERM (a restart: systemd, a deploy) leaves the builds it started to finish on their own
    instead of killing them; Ctrl-C stops it as Prefect's does, runs and all."""
    from ops.worker import serve

    serve(pool, name, limit)


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
        key, token = api_keys.create_key(session, role, name)
        session.flush()
        key_id = key.id
    typer.echo(token)  # alone on stdout: `TOKEN=$(dailies keys create …)`
    named = f" {name!r}" if name else ""
    typer.echo(f"{role} key{named} (id {key_id}) created; the token above is shown once, only "
               f"its hash is kept: `dailies keys revoke {key_id}` ends it", err=True)  # fmt: skip


@keys_app.command("revoke")
def keys_revoke(
    key: str = typer.Argument(..., help="the key's id, its listed prefix, or the token"),
) -> None:
    """Revoke a token: the API refuses it (401) from the next request on; preview grants it
    was given end at their expiry (DAILIES_PREVIEW_GRANT_TTL_S at most)."""
    from dailies import revocations
    from dailies.clients import session_scope
    from dailies.db import api_keys
    from dailies.settings import get_settings

    _require_database()
    with _expected_errors("nothing revoked"), session_scope() as session:
        revoked = api_keys.revoke_key(session, key)
    if not revoked:
        raise _fail(f"no active key matches {key!r}", 1)
    settings = get_settings()
    try:
        revocations.announce(settings)
    except Exception as exc:  # revoked all the same: the API's lookups lapse on their own
        typer.echo(f"revoked, but the API processes were not told ({exc}): they refuse it "
                   f"within {settings.auth_cache_ttl_s:g} s", err=True)  # fmt: skip
    typer.echo(f"revoked {revoked} key(s): refused by the API from now on; the preview grants "
               f"it was given end within {settings.preview_grant_ttl_s} s")  # fmt: skip


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
    local: bool = LocalOption,
) -> None:
    """Audit the masters bucket against the catalog; print its summary and exit 1 when
    anything is found. Runs on a worker through the integrity-audit deployment (the one its
    schedule runs) and follows the run; --local audits in this process."""
    from dailies.settings import get_settings
    from ops import launch

    _require_database()
    settings = get_settings()
    if local:
        message, ok = _audit_here(rehash_budget_bytes)
    else:
        with _expected_errors("audit refused"):
            run = launch.launch_audit(settings, rehash_budget_bytes)
        followed = launch.follow(run, "auditing")
        state = followed.run.state
        message = (state.message if state is not None else None) or followed.failure()
        ok = followed.completed
        message = f"{message}\n(run {followed.run.name}: {followed.url})"
    typer.echo(message)
    if not ok:
        raise typer.Exit(1)


def _audit_here(rehash_budget_bytes: int | None) -> tuple[str, bool]:
    import threading

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from flows.audit import audit_masters

    _quiet_prefect_console()
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
    return str(state.message or state.name), bool(state.is_completed())


if __name__ == "__main__":
    app()
