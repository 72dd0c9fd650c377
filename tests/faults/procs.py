"""What the fault tests see of processes, through /proc: who is whose child, what a
process is running, how much it has read; and the kills, as a host or the OOM killer does
them (SIGKILL, no cleanup)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def children(pid: int) -> list[int]:
    """A process that exits while it is read has no children: its /proc entry can vanish
    between listing its threads and reading them (a FileNotFoundError that failed CI)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    """Children, grandchildren…, parents before their children."""
    found, queue = [], [pid]
    while queue:
        for child in children(queue.pop(0)):
            found.append(child)
            queue.append(child)
    return found


def _nul_separated(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cmdline(pid: int) -> str:
    return _nul_separated(pid, "cmdline")


def environ(pid: int) -> str:
    return _nul_separated(pid, "environ")


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent's wait() is dead for our purposes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def bytes_read(pid: int) -> int:
    """rchar: every byte the process read, sockets included (an S3 GET's body)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError(f"no rchar for {pid}")


def flow_run_process(worker_pid: int, run_id: str | None = None) -> int | None:
    """The worker's child running a flow run (`python -m prefect.engine`), if there is one;
    with `run_id`, only that run's (its environment names it)."""
    for pid in descendants(worker_pid):
        ours = run_id is None or f"PREFECT__FLOW_RUN_ID={run_id}" in environ(pid)
        if "-m prefect.engine" in cmdline(pid) and alive(pid) and ours:
            return pid
    return None


def ffmpeg_children(pid: int, marker: str = "") -> list[int]:
    return [
        p
        for p in descendants(pid)
        if cmdline(p).split(" ", 1)[0].endswith("ffmpeg") and marker in cmdline(p) and alive(p)
    ]


def sigkill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def kill_tree(root: int) -> list[int]:
    """SIGKILL a process, everything below it and their process groups at once: what a
    lost host does to a worker, its flow-run process and that run's ffmpeg."""
    pids = [root, *descendants(root)]
    groups = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(pid))
    for pid in pids:
        sigkill(pid)
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    return pids


def wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    """Wait until none of `pids` runs; return those still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def orphaned_ffmpeg(marker: str) -> list[int]:
    """ffmpeg processes anywhere whose command line names `marker` (a scratch path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            line = cmdline(int(entry.name))
            if line.split(" ", 1)[0].endswith("ffmpeg") and marker in line:
                found.append(int(entry.name))
    return [p for p in found if alive(p)]
