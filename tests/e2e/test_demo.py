"""`dailies demo` from a clean environment: its own stack on free ports, a generated master,
exit 0 only once the preview is playable through the edge."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The test session's stack must not leak in: the demo starts and stops its own.
SESSION_PREFIXES = ("DAILIES_", "PREFECT_", "AWS_")


def test_demo_exits_zero_once_playable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SESSION_PREFIXES)}
    env.update({"DAILIES_HOME": str(tmp_path / "home"), "PREFECT_UI_ENABLED": "false"})
    dailies = str(Path(sys.executable).parent / "dailies")
    done = subprocess.run(
        [dailies, "demo", "--sample-seconds", "4", "--timeout", "120",
         "--edge-port", "0", "--api-port", "0", "--prefect-port", "0", "--no-gpu"],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    output = done.stdout + done.stderr
    logs = tmp_path / "home" / "stack" / "logs"
    assert done.returncode == 0, f"{output}\nlogs in {logs}"
    assert "playable through the edge" in output
    player = re.search(r"http://127\.0\.0\.1:\d+/watch/([0-9a-f]{64})#token=dly_\S+", output)
    assert player, output
    assert re.search(r"Prefect UI\s+http://127\.0\.0\.1:\d+/runs/flow-run/[0-9a-f-]{36}", output)
    # Stopped afterwards: nothing left in the state file, no process on the edge's port.
    assert not (tmp_path / "home" / "stack.json").exists()
