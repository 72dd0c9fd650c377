"""The one place that starts ffprobe and ffmpeg. Argument building is elsewhere and pure."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from dailies.errors import (
    DailiesError,
    EncodeFailed,
    EncodeTimedOut,
    ProcessKilled,
    UnplayableMaster,
)
from dailies.media.progress import ProgressParser, ProgressUpdate
from dailies.redaction import redact_probe, redact_secrets

# stderr lines that mean the input itself is bad: running again cannot help.
INPUT_ERROR_MARKERS = (
    "invalid data found when processing input",
    "moov atom not found",
    "could not find codec parameters",
    "error while decoding",
    "corrupt",
    "does not contain any stream",
    "invalid nal unit",
    "unknown format",
)


def stderr_tail(text: str, limit: int = 1500) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


def classify_failure(what: str, returncode: int, stderr: str) -> DailiesError | None:
    """Our typed error for a failed run, or None for a kill/crash worth retrying."""
    if returncode < 0 or (returncode == 255 and "received signal" in stderr):
        return None  # killed by a signal (OOM killer, shutdown): transient
    lowered = stderr.lower()
    reason = stderr_tail(stderr) or f"exit status {returncode}"
    if any(marker in lowered for marker in INPUT_ERROR_MARKERS):
        return UnplayableMaster(f"{what} cannot read the master: {reason}")
    return EncodeFailed(f"{what} failed (exit status {returncode}): {reason}")


def ffmpeg_timeout_s(duration_s: float, floor_s: float, per_media_s: float) -> float:
    """How long one ffmpeg run over a master of `duration_s` may take before it is killed."""
    return max(floor_s, per_media_s * max(0.0, duration_s))


def run_ffprobe(args: Sequence[str], timeout_s: float = 120.0) -> dict[str, Any]:
    try:
        done = subprocess.run(list(args), capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        # Not chained: TimeoutExpired's text is the whole command, the presigned URL in it.
        raise EncodeTimedOut(
            f"ffprobe took longer than its {timeout_s:g} s limit and was stopped"
        ) from None
    # ffprobe names its input (a presigned URL) in its errors, and the text becomes our
    # error's message: a state message, a log line, the previews row's reason.
    stderr = redact_secrets(done.stderr.decode(errors="replace"))
    if done.returncode != 0:
        if classify_failure("ffprobe", done.returncode, stderr) is None:
            raise ProcessKilled(f"ffprobe was killed (exit status {done.returncode})")
        # ffprobe failing on a file it was given is always about the file.
        reason = stderr_tail(stderr) or f"exit status {done.returncode}"
        raise UnplayableMaster(f"ffprobe cannot read the master: {reason}")
    try:
        return redact_probe(dict(json.loads(done.stdout or b"{}")))
    except json.JSONDecodeError as exc:
        raise UnplayableMaster(f"ffprobe returned unreadable output: {exc}") from exc


def run_ffmpeg(
    args: Sequence[str],
    what: str = "ffmpeg",
    duration_s: float = 0.0,
    on_progress: Callable[[ProgressUpdate], None] | None = None,
    timeout_s: float | None = None,
) -> None:
    """Run ffmpeg (argv from a builder using `-progress pipe:1`), reporting progress as it goes.

    Past `timeout_s` its whole process group is killed and EncodeTimedOut raised. Raises
    UnplayableMaster / EncodeFailed with ffmpeg's own words, ProcessKilled if killed by others.
    """
    # A session of its own, so a timeout kills ffmpeg and anything it started, and nothing
    # else; a Prefect task timeout would only interrupt this thread and orphan ffmpeg.
    proc = subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    timer = _Deadline(proc, timeout_s)
    # Drain stderr concurrently: a full pipe would block ffmpeg forever. Redacted as it is
    # read: ffmpeg names its input (a presigned URL) in what it says, and the tail becomes
    # our error's message.
    stderr_pipe = proc.stderr
    assert stderr_pipe is not None and proc.stdout is not None  # both are PIPEs
    tail: deque[str] = deque(maxlen=60)
    reader = threading.Thread(
        target=lambda: tail.extend(
            redact_secrets(line.decode(errors="replace").rstrip())
            for line in iter(stderr_pipe.readline, b"")
        ),
        daemon=True,
    )
    reader.start()
    parser = ProgressParser(duration_s)
    try:
        for raw in iter(proc.stdout.readline, b""):
            update = parser.feed(raw.decode(errors="replace"))
            if update is not None and on_progress is not None:
                on_progress(update)
        returncode = proc.wait()
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        timer.cancel()
        reader.join(timeout=5)
    if timer.expired:
        raise EncodeTimedOut(f"{what} took longer than its {timeout_s:g} s limit and was stopped")
    if returncode != 0:
        stderr = "\n".join(tail)
        error = classify_failure(what, returncode, stderr)
        if error is None:
            tail_text = stderr_tail(stderr)
            raise ProcessKilled(f"{what} was killed (exit status {returncode}): {tail_text}")
        raise error


class _Deadline:
    """Kills the process group when `timeout_s` passes (None: never)."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout_s: float | None) -> None:
        self.expired = False
        self._proc = proc
        self._timer: threading.Timer | None = None
        if timeout_s is not None:
            self._timer = threading.Timer(timeout_s, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        if self._proc.poll() is None:
            self.expired = True
            _kill_group(self._proc)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)
