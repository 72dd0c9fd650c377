"""What this ffmpeg build accepts, read from its own help (`ffmpeg -h full`, `-h encoder=…`,
`-h muxer=…`), and a check of an argv's output options against it: each option must be one
the encoder, libavcodec's generic encoder options, the muxer or the ffmpeg CLI knows, with a
value its type or its named constants allow. It needs no GPU: an NVENC command is checked on
a machine that cannot run it."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from functools import cache

OPTION = re.compile(r"^\s+-(\S+)\s+<(\w+)>\s+([EDFVASXRBTP.]{11})(.*)$")
CONSTANT = re.compile(r"^\s{3,}(\S+)\s+(?:(-?\d+)\s+)?[EDFVASXRBTP.]{11}")
RANGE = re.compile(r"\(from (\S+) to (\S+)\)")
NAMED_BOUNDS = {"INT_MIN": -(2**31), "INT_MAX": 2**31 - 1, "I64_MAX": 2**63 - 1}
TRUE_FALSE = {"0", "1", "true", "false"}


@dataclass
class AVOption:
    name: str
    kind: str  # int, int64, boolean, flags, string, duration, pix_fmt, ...
    flags: str  # E..V....... : E encoding, V video, A audio
    low: int | None = None
    high: int | None = None
    constants: set[str] = field(default_factory=set)

    def refuses(self, value: str) -> str | None:
        """Why ffmpeg would refuse `value` for this option, or None if it takes it."""
        if self.kind == "flags":
            unknown = [f for f in re.split(r"[+-]", value) if f and f not in self.constants]
            return f"unknown flags {unknown}" if unknown else None
        if self.kind == "boolean":
            return None if value.lower() in TRUE_FALSE else "not a boolean"
        if value in self.constants:
            return None
        if self.kind in ("int", "int64"):
            if not re.fullmatch(r"-?\d+", value):
                allowed = sorted(self.constants)
                return f"neither an integer nor one of {allowed}" if allowed else "not an integer"
            if self.low is not None and int(value) < self.low:
                return f"below {self.low}"
            if self.high is not None and int(value) > self.high:
                return f"above {self.high}"
        return None


def _bound(text: str) -> int | None:
    if text in NAMED_BOUNDS:
        return NAMED_BOUNDS[text]
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def parse_avoptions(help_text: str) -> dict[str, dict[str, AVOption]]:
    """{section title ("h264_nvenc AVOptions"): {name: AVOption}} from ffmpeg's help."""
    sections: dict[str, dict[str, AVOption]] = {}
    current: dict[str, AVOption] | None = None
    last: AVOption | None = None
    for line in help_text.splitlines():
        if line.endswith("AVOptions:") and not line.startswith(" "):
            current = sections.setdefault(line[:-1], {})
            last = None
        elif current is not None and (found := OPTION.match(line)):
            name, kind, flags, rest = found.groups()
            last = AVOption(name, kind, flags)
            if bounds := RANGE.search(rest):
                last.low, last.high = _bound(bounds[1]), _bound(bounds[2])
            current.setdefault(name, last)
        elif last is not None and (constant := CONSTANT.match(line)):
            last.constants.add(constant[1])
        elif line and not line.startswith(" "):
            current, last = None, None  # a CLI section or a title: not AVOptions
    return sections


def _help(*args: str) -> str:
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


@cache
def full_help() -> str:
    return _help("-h", "full")


@cache
def cli_options() -> frozenset[str]:
    """Options of the ffmpeg program itself (-map, -pix_fmt, -c …), listed before the
    library AVOptions in `ffmpeg -h full`."""
    head = full_help().split("AVCodecContext AVOptions:")[0]
    return frozenset(re.findall(r"^-(\S+)", head, flags=re.MULTILINE))


@cache
def encoder_help(name: str) -> tuple[dict[str, AVOption], frozenset[str]]:
    """The encoder's private AVOptions and its supported pixel formats."""
    text = _help("-h", f"encoder={name}")
    private = {k: v for s in parse_avoptions(text).values() for k, v in s.items()}
    found = re.search(r"Supported pixel formats: (.*)", text)
    return private, frozenset(found[1].split() if found else ())


@cache
def generic_codec_options() -> dict[str, AVOption]:
    return parse_avoptions(full_help())["AVCodecContext AVOptions"]


@cache
def muxer_options(name: str) -> dict[str, AVOption]:
    sections = parse_avoptions(_help("-h", f"muxer={name}"))
    return {k: v for s in sections.values() for k, v in s.items()}


def output_options(argv: list[str]) -> list[tuple[str, str]]:
    """(option, value) pairs between the last input and the output path; every output
    option our builders write takes a value."""
    start = len(argv) - 1 - argv[::-1].index("-i") + 2
    tail = argv[start:-1]
    assert len(tail) % 2 == 0 and all(t.startswith("-") for t in tail[::2]), tail
    return list(zip(tail[::2], tail[1::2], strict=True))


def refusals(argv: list[str], encoders: dict[str, str], muxer: str) -> list[str]:
    """What this ffmpeg would not take among argv's output options. `encoders` maps a stream
    type to its encoder ({"v": "h264_nvenc", "a": "aac"}); an option without a stream
    specifier reaches every encoder and is checked against the video one."""
    found = []
    muxing = muxer_options(muxer)
    for option, value in output_options(argv):
        name, _, spec = option[1:].partition(":")
        kind = spec[:1] or "v"
        if name in ("c", "codec"):
            if value != encoders.get(kind):
                found.append(f"{option} {value}: expected {encoders.get(kind)}")
            continue
        private, pix_fmts = encoder_help(encoders[kind])
        if name == "pix_fmt":
            if value not in pix_fmts:
                found.append(f"{option} {value}: {encoders[kind]} takes {sorted(pix_fmts)}")
            continue
        generic = generic_codec_options().get(name)
        media_flag = "V" if kind == "v" else "A"
        if generic is not None and not ("E" in generic.flags and media_flag in generic.flags):
            generic = None  # a decoder-only or other-media option does nothing here
        known = private.get(name) or generic or muxing.get(name)
        if known is None:
            if name not in cli_options():
                found.append(f"{option}: unknown to {encoders[kind]}, libavcodec, {muxer}, ffmpeg")
            continue
        if why := known.refuses(value):
            found.append(f"{option} {value}: {why}")
    return found
