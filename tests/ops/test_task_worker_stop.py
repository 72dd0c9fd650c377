"""Stopping the first-rendition task worker as `dailies up` does is a clean stop: it exits
promptly, ended by the interrupt, with no traceback in the log ops read."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from ops.processes import start_task_worker


def test_a_stopped_task_worker_exits_cleanly_without_a_traceback(stack: Any) -> None:
    """Started as CI and `make soak` start everything, in the background of a shell: with
    SIGINT ignored, which an exec'd child inherits (it then ignored every stop: the soak
    runs' one failure)."""
    # tests/conftest.py put DAILIES_HOME under its run folder (importing it would re-run it)
    logs = Path(os.environ["DAILIES_HOME"]).parent / "logs" / "task-worker-stop"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        service = start_task_worker(dict(os.environ), logs)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert service.log_path is not None
    before = service.log_path.read_text()
    service.stop(timeout_s=60)  # a failure bound: a clean stop takes about a second
    log = service.log_path.read_text()
    # Not SIGABRT (-6, stuck after two interrupts: its stacks are in this log) nor SIGKILL.
    assert service.proc.returncode == 0, log[-4000:]
    assert "Traceback" not in log and "StopTaskWorker" not in log, log[-2000:]
    assert "Task worker interrupted, stopping" in log[len(before) :], log[-2000:]
