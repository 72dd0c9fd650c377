"""Pure upload rules: filenames, part plans, keys."""

from __future__ import annotations

import pytest

from dailies.errors import InvalidRequest, UploadTooLarge
from dailies.upload_rules import (
    S3_MAX_PARTS,
    check_upload_key,
    part_count,
    plan_part_size,
    sanitize_filename,
    staging_key_for,
)

MiB, GiB, TiB = 1024**2, 1024**3, 1024**4
UPLOAD_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("A001C003_230101.mov", "A001C003_230101.mov"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("/abs/path/clip.mxf", "clip.mxf"),
        ("day 1/take 2.mov", "take 2.mov"),
        ("clip<>|:*?.mov", "clip______.mov"),
        ("  .hidden.mov ", "hidden.mov"),
        ("Ünïcödé clip.mov", "Ünïcödé clip.mov"),
        ("x" * 300 + ".mov", "x" * 196 + ".mov"),
    ],
)
def test_filenames_are_sanitised_to_one_safe_component(given: str, expected: str) -> None:
    assert sanitize_filename(given) == expected


@pytest.mark.parametrize(
    "given",
    ["", "   ", "..", "../", "a/..", "clip\x00.mov", "clip\n.mov", "\u202eclip.mov", "x" * 1025],
)
def test_unsaveable_filenames_are_refused(given: str) -> None:
    with pytest.raises(InvalidRequest):
        sanitize_filename(given)


@pytest.mark.parametrize(
    ("size", "preferred", "part"),
    [
        (1, 64 * MiB, 64 * MiB),
        (100 * MiB, 5 * MiB, 5 * MiB),
        (1 * TiB, 64 * MiB, 105 * MiB),  # 64 MiB parts would need 16,384 parts
        (5 * TiB, 5 * MiB, 525 * MiB),
        (10 * GiB, 1 * MiB, 5 * MiB),  # never under S3's minimum
    ],
)
def test_part_size_fits_s3_limits(size: int, preferred: int, part: int) -> None:
    planned = plan_part_size(size, preferred, 5 * TiB)
    assert planned == part
    assert 5 * MiB <= planned <= 5 * GiB
    assert part_count(size, planned) <= S3_MAX_PARTS


def test_sizes_over_the_maximum_are_refused() -> None:
    with pytest.raises(UploadTooLarge):
        plan_part_size(2 * GiB + 1, 64 * MiB, 2 * GiB)
    with pytest.raises(InvalidRequest):
        plan_part_size(0, 64 * MiB, 2 * GiB)


def test_a_key_must_be_its_own_uploads_key() -> None:
    key = staging_key_for(UPLOAD_ID, "clip.mov")
    assert check_upload_key(UPLOAD_ID, key) == key
    other = "f" * 32
    for bad in (
        staging_key_for(other, "clip.mov"),
        f"uploads/{UPLOAD_ID}/../{other}/clip.mov",
        f"uploads/{UPLOAD_ID}/sub/clip.mov",
        f"uploads/{UPLOAD_ID}/",
        "masters/x",
    ):
        with pytest.raises(InvalidRequest):
            check_upload_key(UPLOAD_ID, bad)
    with pytest.raises(InvalidRequest):
        check_upload_key("../x", key)
