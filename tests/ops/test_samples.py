"""The demo's generated master (`dailies demo` without FILE), as ffprobe reads it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.main import get_command

from ops.cli import app
from ops.samples import make_sample_master


@pytest.mark.slow
def test_the_demo_sample_is_8_s_of_1080p_h264_and_aac(tmp_path: Path) -> None:
    # What `dailies demo` asks for without FILE: its --sample-seconds default, and the
    # sample's own defaults for the rest.
    demo = get_command(app).commands["demo"]  # type: ignore[attr-defined]
    seconds = next(p.default for p in demo.params if p.name == "sample_seconds")
    assert seconds == 8
    master = make_sample_master(tmp_path, seconds)
    probed = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(master)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout)  # fmt: skip
    streams = {s["codec_type"]: s for s in probed["streams"]}
    assert sorted(streams) == ["audio", "video"]
    video, audio = streams["video"], streams["audio"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1920, 1080)
    assert audio["codec_name"] == "aac"
    assert abs(float(probed["format"]["duration"]) - 8) < 0.1
    assert abs(float(video["duration"]) - 8) < 0.1
