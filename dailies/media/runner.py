"""The one place that starts ffprobe and ffmpeg. Argument building is elsewhere and pure."""

from __future__ import annotations

import json
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from dailies.errors import DailiesError, EncodeFailed, UnplayableMaster
from dailies.media.progress import ProgressParser, ProgressUpdate

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


def run_ffprobe(args: Sequence[str], timeout_s: float = 120.0) -> dict[str, Any]:
    done = subprocess.run(list(args), capture_output=True, timeout=timeout_s, check=False)
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        if classify_failure("ffprobe", done.returncode, stderr) is None:
            raise RuntimeError(f"ffprobe was killed (exit status {done.returncode})")
        # ffprobe failing on a file it was given is always about the file.
        reason = stderr_tail(stderr) or f"exit status {done.returncode}"
        raise UnplayableMaster(f"ffprobe cannot read the master: {reason}")
    try:
        return dict(json.loads(done.stdout or b"{}"))
    except json.JSONDecodeError as exc:
        raise UnplayableMaster(f"ffprobe returned unreadable output: {exc}") from exc


def run_ffmpeg(
    args: Sequence[str],
    what: str = "ffmpeg",
    duration_s: float = 0.0,
    on_progress: Callable[[ProgressUpdate], None] | None = None,
) -> None:
    """Run ffmpeg (argv from a builder using `-progress pipe:1`), reporting progress as it goes.

    Raises UnplayableMaster / EncodeFailed with ffmpeg's own words, RuntimeError if killed.
    """
    proc = subprocess.Popen(
        list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # Drain stderr concurrently: a full pipe would block ffmpeg forever.
    stderr_pipe = proc.stderr
    assert stderr_pipe is not None and proc.stdout is not None  # both are PIPEs
    tail: deque[str] = deque(maxlen=60)
    reader = threading.Thread(
        target=lambda: tail.extend(
            line.decode(errors="replace").rstrip() for line in iter(stderr_pipe.readline, b"")
        ),
        daemon=True,
    )
    reader.start()
    parser = ProgressParser(duration_s)
    try:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            update = parser.feed(raw.decode(errors="replace"))
            if update is not None and on_progress is not None:
                on_progress(update)
        returncode = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join(timeout=5)
    if returncode != 0:
        stderr = "\n".join(tail)
        error = classify_failure(what, returncode, stderr)
        if error is None:
            tail_text = stderr_tail(stderr)
            raise RuntimeError(f"{what} was killed (exit status {returncode}): {tail_text}")
        raise error
