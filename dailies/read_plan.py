"""Pure planning of ranged reads: an object as contiguous HTTP byte ranges, read in order,
and the check that a store answered the range that was asked for. No I/O here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ByteRange:
    index: int  # 0-based position in the object's reading order
    first_byte: int
    last_byte: int  # inclusive, as in an HTTP Range header

    @property
    def length(self) -> int:
        return self.last_byte - self.first_byte + 1

    @property
    def http_range(self) -> str:
        return f"bytes={self.first_byte}-{self.last_byte}"


def part_count(size_bytes: int, part_bytes: int) -> int:
    if size_bytes < 0:
        raise ValueError("size must not be negative")
    if part_bytes < 1:
        raise ValueError("part size must be at least one byte")
    return -(-size_bytes // part_bytes)


def plan_ranges(size_bytes: int, part_bytes: int) -> Iterator[ByteRange]:
    """[0, size) as contiguous ranges of part_bytes (the last one shorter), in order. Lazy:
    a 500 GB master is 60,000 ranges of 8 MiB, which the reader never needs all at once.
    An empty object has no ranges (a Range on it is answered 416)."""
    count = part_count(size_bytes, part_bytes)
    for index in range(count):
        first = index * part_bytes
        yield ByteRange(index, first, min(first + part_bytes, size_bytes) - 1)


def buffer_bytes(size_bytes: int, part_bytes: int, parts_in_flight: int) -> int:
    """What a bounded ranged read holds at most: parts_in_flight buffers of a part each,
    fewer (and smaller) for an object smaller than that window."""
    if parts_in_flight < 1:
        raise ValueError("at least one part must be in flight")
    parts = min(parts_in_flight, part_count(size_bytes, part_bytes))
    return parts * min(part_bytes, size_bytes)


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def answers_range(content_range: str | None, wanted: ByteRange, size_bytes: int) -> bool:
    """Whether a 206's Content-Range is exactly the range asked of an object of size_bytes:
    a store that served another range, or an object of another size, did not answer it."""
    match = _CONTENT_RANGE.fullmatch((content_range or "").strip())
    if match is None:
        return False
    first, last, total = (int(group) for group in match.groups())
    return (first, last, total) == (wanted.first_byte, wanted.last_byte, size_bytes)
