"""Stopping the first-rendition task worker as `dailies up` does is a clean stop: it exits
promptly, ended by the interrupt (status 0, or killed by a second SIGINT when asyncio lost the
first), with no traceback in the log ops read."""

from __future__ import annotations

import os
import signal
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
    # Not SIGABRT (-6, stuck after two interrupts: the stacks are in this log) nor SIGKILL.
    assert service.proc.returncode in (0, -signal.SIGINT), log[-4000:]
    assert "Traceback" not in log and "StopTaskWorker" not in log, log[-2000:]
    assert "Task worker interrupted, stopping" in log[len(before) :], log[-2000:]
