"""Pure planning of multipart copies within S3's limits."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024**2
GiB = 1024**3
MIN_PART_BYTES = 5 * MiB
MAX_PART_BYTES = 5 * GiB
MAX_PARTS = 10_000


@dataclass(frozen=True)
class PartRange:
    part_number: int
    first_byte: int
    last_byte: int  # inclusive, as in an HTTP Range / x-amz-copy-source-range

    @property
    def size(self) -> int:
        return self.last_byte - self.first_byte + 1

    @property
    def copy_source_range(self) -> str:
        return f"bytes={self.first_byte}-{self.last_byte}"


def choose_part_size(size_bytes: int, preferred_part_bytes: int) -> int:
    """The preferred part size, raised as needed to stay within 10,000 parts."""
    if size_bytes < 0:
        raise ValueError("size must not be negative")
    part = max(MIN_PART_BYTES, min(preferred_part_bytes, MAX_PART_BYTES))
    while -(-size_bytes // part) > MAX_PARTS:
        part *= 2
    if part > MAX_PART_BYTES:
        raise ValueError(f"{size_bytes} bytes exceed S3's largest object (10,000 x 5 GiB)")
    return part


def plan_copy_parts(size_bytes: int, preferred_part_bytes: int) -> list[PartRange]:
    """Split [0, size) into contiguous ranges; every part but the last is >= 5 MiB."""
    part = choose_part_size(size_bytes, preferred_part_bytes)
    parts: list[PartRange] = []
    start = 0
    number = 1
    while start < size_bytes:
        end = min(start + part, size_bytes)
        parts.append(PartRange(number, start, end - 1))
        start = end
        number += 1
    return parts


def parts_still_to_copy(plan: list[PartRange], held: dict[int, int]) -> list[PartRange]:
    """The planned parts an upload does not yet hold: `held` maps the part numbers it holds
    to their sizes (ListParts). A part held at another size (a run with another part size
    left it) is copied again over it."""
    return [p for p in plan if held.get(p.part_number) != p.size]
