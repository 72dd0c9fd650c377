"""ffmpeg's `-progress` output (key=value lines, a block per report) as fractions done."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressUpdate:
    out_time_s: float
    fraction: float  # 0..1 of the expected duration
    speed: float | None
    done: bool


class ProgressParser:
    """Feed it lines; it returns an update at the end of each block (`progress=...`)."""

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> ProgressUpdate | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        self._fields[key] = value.strip()
        if key != "progress":
            return None
        fields, self._fields = self._fields, {}
        out_time = _out_time_s(fields)
        done = value.strip() == "end"
        fraction = 1.0 if done else _fraction(out_time, self.duration_s)
        return ProgressUpdate(out_time, fraction, _speed(fields.get("speed")), done)


def _out_time_s(fields: dict[str, str]) -> float:
    # out_time_ms is microseconds too (a long-standing ffmpeg misnomer); either will do.
    for key in ("out_time_us", "out_time_ms"):
        raw = fields.get(key, "")
        if raw.lstrip("-").isdigit():
            return max(0.0, int(raw) / 1_000_000)
    return 0.0


def _fraction(out_time_s: float, duration_s: float) -> float:
    if duration_s <= 0:
        return 0.0
    # Never report 100% before ffmpeg says it is done.
    return min(0.99, max(0.0, out_time_s / duration_s))


def _speed(raw: str | None) -> float | None:
    if not raw or raw == "N/A":
        return None
    try:
        return float(raw.rstrip("x"))
    except ValueError:
        return None


class Throttle:
    """True at most once per `interval_s`, and always for the final report."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self._last: float | None = None

    def ready(self, final: bool = False) -> bool:
        now = self.clock()
        if final or self._last is None or now - self._last >= self.interval_s:
            self._last = now
            return True
        return False
