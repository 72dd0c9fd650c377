"""Pure rules of ranged reads (dailies/read_plan.py): the ranges cover the object exactly, in
order, around part boundaries; the buffer bound; a Content-Range that is not the one asked."""

from __future__ import annotations

import pytest

from dailies.read_plan import ByteRange, answers_range, buffer_bytes, plan_ranges

PART = 1000


@pytest.mark.parametrize(
    "size, expected",
    [
        (0, []),
        (1, [(0, 0)]),
        (PART - 1, [(0, PART - 2)]),
        (PART, [(0, PART - 1)]),
        (PART + 1, [(0, PART - 1), (PART, PART)]),
        (3 * PART, [(0, PART - 1), (PART, 2 * PART - 1), (2 * PART, 3 * PART - 1)]),
        (3 * PART + 1, [(0, PART - 1), (PART, 2 * PART - 1), (2 * PART, 3 * PART - 1),
                        (3 * PART, 3 * PART)]),
    ],
)  # fmt: skip
def test_ranges_around_part_boundaries(size: int, expected: list[tuple[int, int]]) -> None:
    ranges = list(plan_ranges(size, PART))

    assert [(r.first_byte, r.last_byte) for r in ranges] == expected
    assert [r.index for r in ranges] == list(range(len(expected)))
    assert sum(r.length for r in ranges) == size


@pytest.mark.parametrize("size", [1, 7, 4096, 10**6 + 3])
@pytest.mark.parametrize("part", [1, 3, 4096, 65536])
def test_ranges_are_contiguous_and_cover_the_object_once(size: int, part: int) -> None:
    ranges = list(plan_ranges(size, part))

    assert ranges[0].first_byte == 0 and ranges[-1].last_byte == size - 1
    assert all(a.last_byte + 1 == b.first_byte for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(r.length == part for r in ranges[:-1]) and 1 <= ranges[-1].length <= part


def test_a_500_gb_master_is_planned_lazily() -> None:
    ranges = plan_ranges(500 * 10**9, 8 * 1024**2)

    assert next(ranges).http_range == f"bytes=0-{8 * 1024**2 - 1}"
    assert not isinstance(ranges, list | tuple)


@pytest.mark.parametrize("size, part", [(-1, PART), (10, 0)])
def test_nonsense_sizes_are_refused(size: int, part: int) -> None:
    with pytest.raises(ValueError):
        list(plan_ranges(size, part))


@pytest.mark.parametrize(
    "size, part, in_flight, expected",
    [
        (0, PART, 4, 0),
        (1, PART, 4, 1),  # one part of one byte
        (PART, PART, 4, PART),
        (2 * PART + 1, PART, 4, 3 * PART),  # three parts, fewer than the window
        (10 * PART, PART, 4, 4 * PART),  # the window, whatever the object's size
        (10**12, PART, 4, 4 * PART),
    ],
)
def test_buffer_bytes_are_the_window_not_the_object(
    size: int, part: int, in_flight: int, expected: int
) -> None:
    assert buffer_bytes(size, part, in_flight) == expected


WANTED = ByteRange(1, PART, 2 * PART - 1)


@pytest.mark.parametrize(
    "content_range, size, ok",
    [
        (f"bytes {PART}-{2 * PART - 1}/{3 * PART}", 3 * PART, True),
        (f"bytes {PART}-{2 * PART - 1}/{3 * PART + 1}", 3 * PART, False),  # object grew
        (f"bytes 0-{PART - 1}/{3 * PART}", 3 * PART, False),  # another range
        (f"bytes {PART}-{2 * PART - 2}/{3 * PART}", 3 * PART, False),  # a shorter one
        (f"bytes {PART}-{2 * PART - 1}/*", 3 * PART, False),
        (None, 3 * PART, False),  # a 200 with the whole object
        ("", 3 * PART, False),
    ],
)
def test_an_answer_is_the_range_asked_or_nothing(
    content_range: str | None, size: int, ok: bool
) -> None:
    assert answers_range(content_range, WANTED, size) is ok
