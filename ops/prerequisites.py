"""What `dailies up` needs before it starts anything: system tools, the player's vendored
hls.js, free ports. Each failure says what to do about it."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable

from ops import PROJECT_DIR
from ops.errors import StackError
from ops.processes import free_port

PLAYER_VENDOR = PROJECT_DIR / "edge" / "player" / "vendor" / "hls.min.js"
Echo = Callable[[str], None]


def _which(binary: str) -> str | None:
    # nginx lives in /usr/sbin, which is not on every user's PATH.
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin")


def missing_tools(ffmpeg_bin: str = "ffmpeg", ffprobe_bin: str = "ffprobe") -> list[str]:
    """Debian packages to install for the system tools the stack runs."""
    needed = {ffmpeg_bin: "ffmpeg", ffprobe_bin: "ffmpeg", "nginx": "nginx-light"}
    return sorted({package for binary, package in needed.items() if not _which(binary)})


def require_tools(ffmpeg_bin: str = "ffmpeg", ffprobe_bin: str = "ffprobe") -> None:
    packages = missing_tools(ffmpeg_bin, ffprobe_bin)
    if packages:
        raise StackError(
            f"missing system tools: {', '.join(packages)}. Install them with\n"
            f"    apt-get install -y {' '.join(packages)}    (Debian/Ubuntu; or `make system`)\n"
            "    brew install ffmpeg nginx                  (macOS)"
        )


def ensure_player_assets(echo: Echo) -> None:
    """hls.js is vendored at build time (`make sync`); do it now when only `uv sync` ran."""
    if PLAYER_VENDOR.exists():
        return
    done = subprocess.run(
        ["bash", str(PROJECT_DIR / "scripts" / "vendor-hlsjs.sh")], capture_output=True, text=True
    )
    if done.returncode != 0:
        echo(f"note: the player page needs hls.js; scripts/vendor-hlsjs.sh failed: "
             f"{done.stderr.strip()[-300:]}")  # fmt: skip


def pick_port(requested: int | None, default: int) -> int:
    """An explicit port must be free; a default one that is taken is swapped for a free one."""
    port = default if requested is None else requested
    if port == 0:
        return free_port()
    with socket.socket() as sock:
        # As the servers themselves bind (uvicorn, nginx, Prefect): connections of a stack
        # stopped a moment ago linger in TIME_WAIT for a minute, and do not make it taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            if requested is not None:
                raise StackError(f"port {port} is in use; pick another or 0 for any") from None
    return free_port()
