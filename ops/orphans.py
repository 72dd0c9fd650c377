"""Processes the stack's services leave behind, found and ended.

A Prefect process worker starts each flow run in a session of its own (so a signal to the
worker's group does not reach it), and the flow run starts ffmpeg. When the worker dies, or
the stack stops, those must not live on: `dailies up` makes itself a child subreaper, so
orphans are re-parented to it rather than to init, and it can find them in /proc.
Linux-only, like the rest of the local stack.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
PROC = Path("/proc")


def become_subreaper() -> bool:
    """Orphaned descendants become our children (prctl); False where that is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def parents() -> dict[int, int]:
    """pid → parent pid for every process we can see."""
    table: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces and parentheses: split after its last ')'.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            table[int(entry.name)] = int(fields[1])
    return table


def descendants(roots: Iterable[int], table: dict[int, int] | None = None) -> set[int]:
    table = parents() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def orphans(keep: Iterable[int]) -> set[int]:
    """Our children that are not our own services, and everything under them."""
    table = parents()
    me, kept = os.getpid(), set(keep)
    strays = {pid for pid, ppid in table.items() if ppid == me and pid not in kept}
    return strays | descendants(strays, table)


def end(pids: Iterable[int], grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL whatever is still there after `grace_s` (flow-run processes may
    ignore SIGTERM), then reap the ones that were our children."""
    pending = set(pids)
    for pid in pending:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while pending and time.monotonic() < deadline:
        reap()
        pending = {pid for pid in pending if _alive(pid)}
        time.sleep(0.1)
    for pid in pending:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    reap()


def reap(exclude: Iterable[int] = ()) -> None:
    """Collect exited orphans (zombies) re-parented to us; never our services' processes,
    whose exit status belongs to their Popen objects."""
    excluded, me = set(exclude), os.getpid()
    for pid, ppid in parents().items():
        if ppid == me and pid not in excluded and _zombie(pid):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    return (PROC / str(pid)).exists() and not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
