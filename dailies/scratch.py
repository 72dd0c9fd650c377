"""Scratch folders of builds, named for the process that owns them.

A build killed with SIGKILL (OOM killer, a lost node, ops) never reaches the `finally` that
removes its scratch folder, and each folder holds a copy of a master. So a folder's name
carries its owner's pid, and every build that starts removes the folders of owners that
are gone. Scratch is per host (local NVMe, an emptyDir): pids are this host's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PREFIXES = ("dailies-preview-", "dailies-first-")


def make_scratch(root: Path | None, prefix: str, sha256: str) -> Path:
    """A new folder `{prefix}{sha:12}-{pid}-{random}` under `root` (None: the temp dir),
    after sweeping what killed builds left there."""
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(root if root is not None else Path(tempfile.gettempdir()))
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{sha256[:12]}-{os.getpid()}-", dir=root))


def owner_pid(folder: Path) -> int | None:
    """The pid in a scratch folder's name; None for names without one (older builds)."""
    for prefix in PREFIXES:
        if folder.name.startswith(prefix):
            parts = folder.name[len(prefix) :].split("-")
            if len(parts) == 3 and parts[1].isdigit():
                return int(parts[1])
    return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def sweep_abandoned(root: Path) -> list[Path]:
    """Remove scratch folders under `root` whose owner process has died; return them."""
    swept = []
    for prefix in PREFIXES:
        for folder in root.glob(f"{prefix}*"):
            pid = owner_pid(folder)
            if pid is not None and pid != os.getpid() and not _running(pid):
                shutil.rmtree(folder, ignore_errors=True)
                swept.append(folder)
    return swept
