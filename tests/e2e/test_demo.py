"""`dailies demo` from a clean environment: its own stack on free ports, a generated master,
exit 0 only once the preview is playable through the edge."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.stack]

# The test session's stack must not leak in: the demo starts and stops its own.
SESSION_PREFIXES = ("DAILIES_", "PREFECT_", "AWS_")
# Each stage the README says the demo times, in the order it runs them (a stack of its own,
# a generated sample of --sample-seconds 4).
STAGES = (
    "start the stack",
    "generate a 4 s 1080p sample",
    "sha256",
    "upload (presigned multipart)",
    "promote (flow run)",
    "preview: asked → playable at the edge",
)


def test_demo_exits_zero_once_playable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SESSION_PREFIXES)}
    env.update({"DAILIES_HOME": str(tmp_path / "home"), "PREFECT_UI_ENABLED": "false"})
    dailies = str(Path(sys.executable).parent / "dailies")
    started = time.monotonic()
    done = subprocess.run(
        [dailies, "demo", "--sample-seconds", "4", "--timeout", "120",
         "--edge-port", "0", "--api-port", "0", "--prefect-port", "0", "--no-gpu"],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    logs = tmp_path / "home" / "stack" / "logs"
    assert done.returncode == 0, f"{output}\nlogs in {logs}"
    assert "playable through the edge" in output
    player = re.search(r"http://127\.0\.0\.1:\d+/watch/([0-9a-f]{64})#token=dly_\S+", output)
    assert player, output
    assert re.search(r"Prefect UI\s+http://127\.0\.0\.1:\d+/runs/flow-run/[0-9a-f-]{36}", output)
    # Each stage's time: "timings:", then one aligned line per stage, in order, in seconds.
    lines = done.stdout.splitlines()
    assert "timings:" in lines, output
    table = lines[lines.index("timings:") + 1 :][: len(STAGES)]
    width = max(map(len, STAGES))
    seconds = []
    for stage, line in zip(STAGES, table, strict=False):
        timed = re.fullmatch(rf"  {re.escape(stage.ljust(width))}  ([ \d]{{3}}\d\.\d\d) s", line)
        assert timed, f"{stage!r} not timed in {table}"
        seconds.append(float(timed[1]))
    assert len(seconds) == len(STAGES), table
    # Measured, not made up: together they took some time, and no longer than the demo ran.
    assert 0 < sum(seconds) < elapsed, table
    # Stopped afterwards: nothing left in the state file, no process on the edge's port.
    assert not (tmp_path / "home" / "stack.json").exists()
