"""The NVENC ladder command exactly as a GPU worker builds it, for masters that take each of
its paths; shared by the option-parser checks (no GPU) and the real encode (GPU only)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dailies.media.commands.ladder import EncodeSettings, build_ladder_args
from dailies.media.commands.probe import ffprobe_args
from dailies.media.encoders import NVENC
from dailies.media.ladder import LADDER_VERSION, LadderPlan, plan_ladder
from dailies.media.probe import MasterProbe, parse_probe
from dailies.media.runner import run_ffprobe
from dailies.settings import Settings
from tests import preview_fixtures as media

# The preset a GPU worker runs with unless DAILIES_NVENC_PRESET says otherwise.
NVENC_PRESET = str(Settings.model_fields["nvenc_preset"].default)
# name: (maker, whether decode, deinterlace and scale stay in CUDA). 10-bit has no CUDA path
# to 8-bit: CPU filters, NVENC encoding only.
MASTERS: dict[str, tuple[Callable[[Path], Path], bool]] = {
    "h264_1080p": (lambda p: media.make_h264_aac_1080p(p, seconds=1), True),
    "interlaced": (lambda p: media.make_interlaced(p, seconds=1), True),
    "ten_bit": (lambda p: media.make_ten_bit_h264(p, seconds=1), False),
}


def make_masters(folder: Path, only: str | None = None) -> dict[str, Path]:
    chosen = {only: MASTERS[only]} if only else MASTERS
    return {name: make(folder / f"{name}.mp4") for name, (make, _) in chosen.items()}


def nvenc_ladder_command(master: Path, out: Path) -> tuple[list[str], MasterProbe, LadderPlan]:
    """argv, probe and plan for this master: probed, planned and built as
    tasks/preview_steps.py's encode_ladder does on a worker whose NVENC works."""
    probe = parse_probe(run_ffprobe(ffprobe_args("ffprobe", str(master))))
    plan = plan_ladder(probe)
    encode = EncodeSettings(NVENC, nvenc_preset=NVENC_PRESET)
    return build_ladder_args(str(master), out, probe, plan, encode, LADDER_VERSION), probe, plan
