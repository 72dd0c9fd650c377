"""Plan the ABR ladder from a probe: which renditions, at which size, rate and bitrate.

Everything that changes the bytes of a preview lives here or in media/commands and is covered
by LADDER_VERSION: bump it and every preview is rebuilt (it is part of the cache key).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from dailies.media.probe import MasterProbe

LADDER_VERSION = "1"
SEGMENT_S = 4
# Keyframe every 2 s in every rendition, at the same frame numbers: players switch
# renditions on any segment boundary, and segments cut only at keyframes.
GOP_S = 2
AUDIO_BITRATE = 128_000
AUDIO_SAMPLE_RATE = 48_000
DEFAULT_TARGETS = (1080, 720, 540, 360)
MP4_TARGET = 720
# A source just above a rung (740p over 720p) would make two near-identical renditions.
NEAR_DUPLICATE = 0.85
MAX_FRAME_RATE = Fraction(60)
# Common rates a slightly-off average (VFR phones, drop-frame) should snap to.
STANDARD_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
)
# kbps for a 1080p30 picture; other sizes scale with pixel count to the 0.75 power.
REFERENCE_KBPS = 5000
REFERENCE_PIXELS = 1920 * 1080


@dataclass(frozen=True)
class Rung:
    name: str  # "720p": the short side, so portrait and landscape share names
    width: int
    height: int
    video_bitrate: int  # bits per second
    maxrate: int
    bufsize: int


@dataclass(frozen=True)
class LadderPlan:
    rungs: tuple[Rung, ...]
    frame_rate: Fraction
    gop_frames: int
    segment_s: int
    has_audio: bool
    duration_s: float

    @property
    def top(self) -> Rung:
        return self.rungs[0]

    @property
    def bottom(self) -> Rung:
        return self.rungs[-1]

    def mp4_rung(self) -> Rung:
        """The rendition preview.mp4 is made from: 720p, or the top one when smaller."""
        for rung in self.rungs:
            if min(rung.width, rung.height) <= MP4_TARGET:
                return rung
        return self.bottom


def even(value: float) -> int:
    """Even (4:2:0 chroma needs it), rounded down so nothing is ever upscaled; at least 2."""
    return max(2, int(value + 1e-9) // 2 * 2)


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Scale so the short side is `short_side`, keeping aspect; both sides even."""
    if width >= height:
        return even(width * short_side / height), even(short_side)
    return even(short_side), even(height * short_side / width)


def output_frame_rate(rate: Fraction) -> Fraction:
    """A constant output rate: the source's, snapped to a standard one, at most 60."""
    while rate > MAX_FRAME_RATE * Fraction(102, 100):
        rate /= 2
    nearest = min(STANDARD_RATES, key=lambda standard: abs(rate - standard))
    if abs(rate - nearest) / nearest <= Fraction(2, 100):
        return nearest
    return Fraction(round(rate * 1000), 1000)


def video_bitrate(width: int, height: int, frame_rate: Fraction) -> int:
    pixels = width * height
    kbps = REFERENCE_KBPS * (pixels / REFERENCE_PIXELS) ** 0.75
    # Higher rates need more bits, far less than proportionally (less change per frame).
    kbps *= max(1.0, float(frame_rate) / 30) ** 0.5
    # At least 100 kbps: a tiny source would otherwise round to 0, which means "no rate
    # control" to x264 and an invalid maxrate to NVENC (found by tests/test_properties.py).
    return max(100, int(round(kbps / 50) * 50)) * 1000


def plan_ladder(probe: MasterProbe, targets: tuple[int, ...] = DEFAULT_TARGETS) -> LadderPlan:
    """Renditions capped at the source: never upscale, keep aspect, even sides."""
    short = min(probe.width, probe.height)
    top = min(short, max(targets))
    sides = [top] + [t for t in sorted(targets, reverse=True) if t < top * NEAR_DUPLICATE]
    rate = output_frame_rate(probe.frame_rate)
    rungs = []
    for side in sides:
        width, height = scaled_size(probe.width, probe.height, side)
        bitrate = video_bitrate(width, height, rate)
        rungs.append(
            Rung(
                name=f"{min(width, height)}p",
                width=width,
                height=height,
                video_bitrate=bitrate,
                # Capped VBR: peaks stay within what the BANDWIDTH attribute promises.
                maxrate=bitrate * 3 // 2,
                bufsize=bitrate * 2,
            )
        )
    return LadderPlan(
        rungs=tuple(rungs),
        frame_rate=rate,
        gop_frames=max(1, round(rate * GOP_S)),
        segment_s=SEGMENT_S,
        has_audio=probe.audio is not None,
        duration_s=probe.duration_s,
    )


def format_rate(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"
