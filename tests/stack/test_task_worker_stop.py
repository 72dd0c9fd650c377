"""Stopping the first-rendition task worker as `dailies up` does is a clean stop: it exits
promptly with status 0 and says so in one line, with no traceback in the log ops read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dailies.stack.processes import start_task_worker


def test_a_stopped_task_worker_exits_cleanly_without_a_traceback(stack: Any) -> None:
    # tests/conftest.py put DAILIES_HOME under its run folder (importing it would re-run it)
    logs = Path(os.environ["DAILIES_HOME"]).parent / "logs" / "task-worker-stop"
    service = start_task_worker(dict(os.environ), logs)
    assert service.log_path is not None
    before = service.log_path.read_text()
    service.stop(timeout_s=60)  # a failure bound: a clean stop takes about a second
    log = service.log_path.read_text()
    assert service.proc.returncode == 0, log[-2000:]
    assert "Traceback" not in log and "StopTaskWorker" not in log, log[-2000:]
    assert len(log) > len(before)  # it said it was stopping
