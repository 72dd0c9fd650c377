"""`dailies demo [FILE]`: the main job end to end against a running stack (or one started
here, as `dailies up` would): upload → promote → preview through the edge → playable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from dailies.errors import DailiesError
from dailies.hashing import sha256_of_chunks
from ops.demo_client import promote, upload, wait_playable
from ops.errors import DemoFailure
from ops.up import (
    Stack,
    adopt,
    print_urls,
    running_stack,
    start_stack,
    wait_until_interrupted,
)


class Timings:
    def __init__(self) -> None:
        self.stages: list[tuple[str, float]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.stages.append((name, time.monotonic() - started))

    def table(self) -> list[str]:
        width = max(len(name) for name, _ in self.stages)
        return [f"  {name:<{width}}  {seconds:7.2f} s" for name, seconds in self.stages]


def sha256_of(path: Path, chunk: int = 8 * 1024 * 1024) -> str:
    with path.open("rb") as source:
        return sha256_of_chunks(iter(lambda: source.read(chunk), b""))[0]


def create_demo_keys() -> dict[str, str]:
    """An editor key (upload, promote) and a reviewer key (the player link)."""
    from dailies.clients import session_scope
    from dailies.db import api_keys

    with session_scope() as session:
        return {role: api_keys.create_key(session, role, f"demo-{role}")[1]
                for role in ("editor", "reviewer")}  # fmt: skip


def run_demo(
    file: Path | None,
    home: Path,
    keep: bool = False,
    ports: dict[str, int | None] | None = None,
    gpu: bool | None = None,
    sample_seconds: float = 8,
    timeout_s: float = 300,
    console: Console | None = None,
) -> int:
    """0 when the preview is playable through the edge; 1 with the reason otherwise."""
    # soft_wrap: URLs and tokens must stay on one line to be copied.
    console = console or Console(soft_wrap=True)
    echo: Callable[[str], None] = console.print
    timings = Timings()
    stack: Stack | None = None
    try:
        state = running_stack(home)
        if state is not None:
            urls = adopt(state)
            echo(f"using the stack already running for {home} (pid {state['pid']})")
        else:
            with timings.stage("start the stack"):
                stack = start_stack(home, ports, gpu, echo)
            urls = stack.urls
        code = _demo_steps(file, home, urls, sample_seconds, timeout_s, timings, console)
        if stack is not None and not keep:
            echo("the stack started for this demo stops now: `dailies demo --keep` keeps it up "
                 "to open the player (or run `dailies up` first, elsewhere).")  # fmt: skip
        if stack is not None and keep and code == 0:
            echo("[bold]--keep:[/] the stack stays up; Ctrl-C stops it.")
            print_urls(stack, echo)
            wait_until_interrupted(stack, echo)
        return code
    except (DailiesError, OSError, TimeoutError, RuntimeError) as exc:
        echo(f"[red]demo failed:[/] {exc}")
        return 1
    finally:
        if stack is not None:
            stack.stop()


def _demo_steps(
    file: Path | None,
    home: Path,
    urls: dict[str, str],
    sample_seconds: float,
    timeout_s: float,
    timings: Timings,
    console: Console,
) -> int:
    from dailies.settings import get_settings
    from ops.samples import make_sample_master

    echo = console.print
    if file is None:
        with timings.stage(f"generate a {sample_seconds:g} s 1080p sample"):
            file = make_sample_master(home / "samples", sample_seconds,
                                      ffmpeg_bin=get_settings().ffmpeg_bin)  # fmt: skip
    if not file.is_file():
        raise DemoFailure(f"no such file: {file}")
    keys = create_demo_keys()
    with timings.stage("sha256"):
        sha = sha256_of(file)
    echo(f"master {file.name}: sha256 {sha}")
    with httpx.Client(base_url=urls["api"], timeout=60) as api, \
            httpx.Client(base_url=urls["edge"], timeout=60) as edge:  # fmt: skip
        with timings.stage("upload (presigned multipart)"), _upload_bar(console) as advance:
            key = upload(api, keys["editor"], file, advance(file.stat().st_size))
        with timings.stage("promote (flow run)"):
            _, result = promote(api, keys["editor"], key, sha, timeout_s)
        echo(f"promoted: {result.get('status', 'promoted')} as masters/{sha}")
        with (
            timings.stage("preview: asked → playable at the edge"),
            console.status("asking the edge for the preview…") as spinner,
        ):
            wait = wait_playable(
                edge, sha, keys["reviewer"], timeout_s,
                on_status=lambda status, progress: spinner.update(
                    f"preview {status}" + (f" {progress:.0%}" if progress is not None else "")
                ),
            )  # fmt: skip
    player = f"{urls['edge']}/watch/{sha}#token={keys['reviewer']}"
    echo("[green]playable through the edge.[/]")
    echo(f"  player      {player}")
    if wait.flow_run_id:
        echo(f"  Prefect UI  {urls['prefect_ui']}/runs/flow-run/{wait.flow_run_id}")
    else:
        echo(f"  Prefect UI  {urls['prefect_ui']}")
    echo("timings:")
    for line in timings.table():
        echo(line)
    return 0


@contextmanager
def _upload_bar(console: Console) -> Iterator[Callable[[int], Callable[[int], None]]]:
    columns = (TextColumn("upload"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:

        def start(total: int) -> Callable[[int], None]:
            task = bar.add_task("upload", total=total)
            return lambda sent: bar.advance(task, sent)

        yield start
