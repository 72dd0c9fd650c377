"""The project's own NVENC ladder command (build_ladder_args for h264_nvenc, the nvenc preset
from Settings) against this ffmpeg, on machines without a GPU: a misspelt option, a value
h264_nvenc does not take (preset p9, tune film) or a filter option scale_cuda lacks fails
here, not first on a GPU worker. What runs without a GPU is ffmpeg's option parsing, filter
graph set-up and, for CPU-filtered masters, the encoder's option setting; the encode itself
runs in test_media_encoders.py where NVENC works."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from dailies.media.commands.ladder import full_gpu
from dailies.media.encoders import NVENC, nvenc_works
from tests.media.ffmpeg_options import encoder_help, refusals
from tests.media.nvenc_ladder import MASTERS, make_masters, nvenc_ladder_command

# What ffmpeg says, and only that, when no NVIDIA driver or device is there: the CUDA
# device for decoding (GPU path) or h264_nvenc's own session (CPU-filtered path) cannot open.
NO_DEVICE = re.compile(
    r"Cannot load libcuda\.so\.1|Could not dynamically load CUDA|Device creation failed: .*"
    r"|No device available for decoder: device type cuda needed for codec \w+\."
    r"|Device setup failed for decoder on input stream #0:0 : Operation not permitted"
    r"|.*CUDA_ERROR_NO_DEVICE.*|No capable devices found|OpenEncodeSessionEx failed: .*"
    r"|Error initializing output stream \d+:\d+ -- Error while opening encoder for output"
    r" stream #\d+:\d+ - maybe incorrect parameters such as bit_rate, rate, width or height"
    r"|Conversion failed!"
)
DRIVER_MISSING = re.compile(r"Cannot load libcuda|CUDA_ERROR_NO_DEVICE|No capable devices")


@pytest.fixture(scope="module")
def masters(tmp_path_factory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    return make_masters(tmp_path_factory.mktemp("nvenc-masters"))


def test_this_ffmpeg_has_h264_nvenc_compiled_in() -> None:
    """Debian's ffmpeg does, GPU or not: the checks below read its options."""
    private, pix_fmts = encoder_help(NVENC)
    assert {"preset", "tune", "rc", "no-scenecut", "forced-idr"} <= set(private)
    assert {"p1", "p4", "p7"} <= private["preset"].constants and "yuv420p" in pix_fmts


@pytest.mark.parametrize("name", MASTERS)
def test_every_output_option_is_one_h264_nvenc_takes(
    name: str, masters: dict[str, Path], tmp_path: Path
) -> None:
    args, probe, _ = nvenc_ladder_command(masters[name], tmp_path)
    assert full_gpu(probe) is MASTERS[name][1]  # the path this case is about
    assert refusals(args, {"v": NVENC, "a": "aac"}, "hls") == []


@pytest.mark.parametrize("name", MASTERS)
def test_ffmpeg_parses_the_nvenc_ladder_command_and_fails_only_for_want_of_a_gpu(
    name: str, masters: dict[str, Path], tmp_path: Path
) -> None:
    """The whole command, as built, run by ffmpeg: options, the filter graph (scale_cuda,
    yadif_cuda) and the input's hwaccel are parsed and set up before the CUDA device is
    opened; on the CPU-filtered path h264_nvenc's options are set before its session opens.
    Where NVENC works, test_media_encoders.py runs the same command to the end instead."""
    if nvenc_works("ffmpeg"):
        pytest.skip("NVENC works here: test_media_encoders.py encodes with this command")
    args, _, _ = nvenc_ladder_command(masters[name], tmp_path)
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    errors = done.stderr.splitlines()
    assert done.returncode != 0
    assert [e for e in errors if not NO_DEVICE.fullmatch(e.split("] ")[-1])] == [], errors
    assert any(DRIVER_MISSING.search(e) for e in errors), errors
