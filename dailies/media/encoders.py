"""Which H.264 encoder runs: NVENC when it really works on this machine, else libx264.

`ffmpeg -encoders` lists h264_nvenc on any build with NVENC compiled in, GPU or not; only a
tiny real encode tells whether a driver and a free session are there.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

from dailies.errors import InvalidRequest

EncoderRequest = Literal["auto", "nvenc", "cpu"]
REQUESTS: tuple[str, ...] = ("auto", "nvenc", "cpu")
NVENC = "h264_nvenc"
X264 = "libx264"


class EncoderUnavailable(InvalidRequest):
    """The encoder asked for cannot run here (e.g. nvenc on a machine without a GPU)."""


def validate_encoder_request(requested: str) -> str:
    value = (requested or "").strip().lower()
    if value not in REQUESTS:
        raise InvalidRequest(f"encoder must be one of {', '.join(REQUESTS)}, got {requested!r}")
    return value


def resolve_encoder(requested: str, nvenc_works: Callable[[], bool]) -> str:
    """Map auto/nvenc/cpu to an ffmpeg encoder name; `nvenc_works` is asked only if needed."""
    value = validate_encoder_request(requested)
    if value == "cpu":
        return X264
    if nvenc_works():
        return NVENC
    if value == "nvenc":
        raise EncoderUnavailable(
            "encoder 'nvenc' was requested but h264_nvenc cannot encode on this machine "
            "(no GPU, driver or free NVENC session); run it on a GPU work pool or use 'auto'"
        )
    return X264


def nvenc_probe_args(ffmpeg_bin: str) -> list[str]:
    # 256x256: below NVENC's minimum frame size some drivers fail even when it works.
    return [
        ffmpeg_bin, "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "lavfi", "-i", "color=c=black:s=256x256:r=25:d=0.2",
        "-c:v", NVENC, "-f", "null", "-",
    ]  # fmt: skip


@lru_cache(maxsize=4)
def nvenc_works(ffmpeg_bin: str = "ffmpeg", timeout_s: float = 20.0) -> bool:
    """One tiny encode per process and ffmpeg binary; the answer does not change while we run."""
    try:
        done = subprocess.run(
            nvenc_probe_args(ffmpeg_bin), capture_output=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
