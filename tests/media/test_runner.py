"""run_ffmpeg's time limit: the whole process group goes, with a reason, and nothing else.
What ffmpeg and ffprobe say about a presigned URL reaches our errors without its secrets."""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from dailies.errors import DailiesError, EncodeTimedOut, UnplayableMaster
from dailies.media.runner import ffmpeg_timeout_s, run_ffmpeg, run_ffprobe
from dailies.redaction import REDACTED


@pytest.mark.parametrize(
    "duration, expected",
    [(0.3, 300.0), (10.0, 300.0), (60.0, 600.0), (3600.0, 36000.0), (-1.0, 300.0)],
)
def test_time_limit_grows_with_the_master(duration: float, expected: float) -> None:
    assert ffmpeg_timeout_s(duration, floor_s=300.0, per_media_s=10.0) == expected


HANG_S = 60  # how long the stand-in hangs: a run that lasts this long was not stopped


def test_past_its_time_limit_ffmpeg_and_its_children_are_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # A stand-in for an ffmpeg that hangs, with a child of its own (as a shell pipeline has).
    script = f"sleep {HANG_S} & echo $! > {pid_file}; wait"
    started = time.monotonic()
    with pytest.raises(EncodeTimedOut, match=r"^stuck took longer than its 0.5 s limit"):
        run_ffmpeg(["sh", "-c", script], "stuck", timeout_s=0.5)
    # Stopped, not outwaited: a child left alive keeps the output pipe open until it ends.
    assert time.monotonic() - started < HANG_S / 2
    child = int(pid_file.read_text())
    deadline = time.monotonic() + HANG_S / 2  # failure timeout: SIGKILL, then init reaps it
    while _alive(child):
        assert time.monotonic() < deadline, f"child {child} outlived the time limit"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_within_its_time_limit_ffmpeg_runs_to_the_end(tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    args = ["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i",
            "testsrc2=s=64x64:d=0.2", str(out)]  # fmt: skip
    run_ffmpeg(args, "tiny", timeout_s=60)
    assert out.stat().st_size > 0


# Nothing listens on port 1: ffmpeg and ffprobe fail at once, naming the URL they were given.
SIGNED_URL = "http://127.0.0.1:1/masters/ab?X-Amz-Credential=AKIAX%2F1&X-Amz-Signature=feed01"


@pytest.mark.parametrize(
    "run",
    [
        lambda: run_ffprobe(["ffprobe", "-v", "error", "-print_format", "json", SIGNED_URL]),
        lambda: run_ffmpeg(["ffmpeg", "-nostdin", "-i", SIGNED_URL, "-f", "null", "-"], "probe"),
        # a time limit: subprocess's own error names the whole command, URL included
        lambda: run_ffprobe(["sh", "-c", "sleep 60", SIGNED_URL], timeout_s=0.5),
    ],
    ids=["ffprobe", "ffmpeg", "ffprobe-time-limit"],
)
def test_errors_about_a_presigned_url_keep_no_signature(run: Any) -> None:
    with pytest.raises(DailiesError) as raised:
        run()
    shown = "".join(traceback.format_exception(raised.value))  # what Prefect logs
    assert "feed01" not in shown and "AKIAX" not in shown, shown
    if isinstance(raised.value, UnplayableMaster):
        assert f"X-Amz-Signature={REDACTED}" in shown  # still says which object
