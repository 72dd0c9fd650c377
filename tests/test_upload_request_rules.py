"""Upload rules at their edges: what each refusal says, where names are cut, who may act on
an upload, which parts one call presigns (test_upload_rules.py has the everyday cases)."""

from __future__ import annotations

import pytest

from dailies.errors import InvalidRequest, UploadTooLarge
from dailies.upload_rules import (
    check_upload_key,
    may_act_on,
    part_count,
    part_page,
    plan_part_size,
    sanitize_filename,
    staging_key_for,
    validate_content_type,
)

MiB, GiB = 1024**2, 1024**3
UPLOAD_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (None, "filename must be a non-empty string"),
        (" \t", "filename must be a non-empty string"),
        ("x" * 1025, "filename is 1025 characters; at most 1024"),
        ("clip\x00.mov", "filename contains control or unassigned characters"),
        ("clip\u200b.mov", "filename contains control or unassigned characters"),  # Cf
        ("clip\ud800.mov", "filename contains control or unassigned characters"),  # Cs
        ("clip\ue000.mov", "filename contains control or unassigned characters"),  # Co
        ("clip\u0378.mov", "filename contains control or unassigned characters"),  # Cn
        ("_", "filename '_' has no usable characters"),
        ("_ _", "filename '_ _' has no usable characters"),
        ("_. _", "filename '_. _' has no usable characters"),
        ("dir/._.", "filename 'dir/._.' has no usable characters"),
        ("." * 150, f"filename {'.' * 100!r} has no usable characters"),
    ],
)
def test_a_refused_filename_says_why(given: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        sanitize_filename(given)
    assert str(refused.value) == message


def test_a_filename_of_1024_characters_is_still_read() -> None:
    assert sanitize_filename("x" * 1020 + ".mov") == "x" * 196 + ".mov"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("XDCAM_X.MXF", "XDCAM_X.MXF"),  # only spaces and dots are trimmed from the ends
        ("x" * 300, "x" * 200),  # no extension: cut, nothing appended
        ("clip." + "x" * 300 + ".mov", "clip." + "x" * 191 + ".mov"),  # the last extension
        ("x" * 300 + "." + "y" * 16, "x" * 183 + "." + "y" * 16),  # 16 bytes: an extension
        ("x" * 300 + "." + "y" * 17, "x" * 200),  # 17 bytes: part of the name
        ("x" + "é" * 150 + ".mov", "x" + "é" * 97 + ".mov"),  # never half a character
    ],
)
def test_long_names_are_cut_to_200_bytes_keeping_the_extension(given: str, expected: str) -> None:
    assert sanitize_filename(given) == expected
    assert len(expected.encode()) <= 200


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("video/quicktime", "video/quicktime"),
        ("application/vnd.apple.mpegurl", "application/vnd.apple.mpegurl"),
        ("video/" + "x" * 249, "video/" + "x" * 249),  # 255 characters
    ],
)
def test_content_types(given: str | None, expected: str) -> None:
    assert validate_content_type(given) == expected


@pytest.mark.parametrize(
    ("given", "echo"),
    [
        ("quicktime", "quicktime"),
        ("video/mp4; x=1", "video/mp4; x=1"),
        ("video/" + "x" * 250, "video/" + "x" * 94),  # 256 characters: too long
        ("text/html\n", "text/html\n"),
    ],
)
def test_a_refused_content_type_says_what_it_must_look_like(given: str, echo: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        validate_content_type(given)
    assert str(refused.value) == f"content_type must look like 'type/subtype', got {echo!r}"


def test_part_size_refusals_say_why() -> None:
    with pytest.raises(InvalidRequest) as refused:
        plan_part_size(-1, 64 * MiB, GiB)
    assert str(refused.value) == "size_bytes must be positive"
    with pytest.raises(UploadTooLarge) as refused_too:
        plan_part_size(GiB + 1, 64 * MiB, GiB)
    assert str(refused_too.value) == (f"size_bytes {GiB + 1} is over the maximum upload size {GiB}")
    assert plan_part_size(GiB, 64 * MiB, GiB) == 64 * MiB  # exactly the maximum is fine


@pytest.mark.parametrize(
    ("size", "part", "count"), [(1, 5 * MiB, 1), (5 * MiB, 5 * MiB, 1), (5 * MiB + 1, 5 * MiB, 2)]
)
def test_part_count(size: int, part: int, count: int) -> None:
    assert part_count(size, part) == count


@pytest.mark.parametrize(
    ("upload_id", "key", "message"),
    [
        (None, "uploads/x", "upload_id must be 32 lowercase hexadecimal characters"),
        (UPLOAD_ID.upper(), "uploads/x", "upload_id must be 32 lowercase hexadecimal characters"),
        (UPLOAD_ID, None, f"key must start with 'uploads/{UPLOAD_ID}/'"),
        (UPLOAD_ID, "uploads/x", f"key must start with 'uploads/{UPLOAD_ID}/'"),
        (
            UPLOAD_ID,
            f"uploads/{UPLOAD_ID}/",
            f"key 'uploads/{UPLOAD_ID}/' does not name an upload: "
            "filename must be a non-empty string",
        ),
        (
            UPLOAD_ID,
            f"uploads/{UPLOAD_ID}/a b?.mov",
            f"key 'uploads/{UPLOAD_ID}/a b?.mov' is not a key this API issued",
        ),
    ],
)
def test_a_refused_upload_key_says_why(upload_id: str, key: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_upload_key(upload_id, key)
    assert str(refused.value) == message


def test_a_refused_upload_key_is_echoed_at_most_200_characters() -> None:
    key = staging_key_for(UPLOAD_ID, "x" * 300 + "?")
    with pytest.raises(InvalidRequest) as refused:
        check_upload_key(UPLOAD_ID, key)
    assert str(refused.value) == f"key {key[:200]!r} is not a key this API issued"
    bad_name = staging_key_for(UPLOAD_ID, "\x00" * 300)
    with pytest.raises(InvalidRequest) as refused:
        check_upload_key(UPLOAD_ID, bad_name)
    assert str(refused.value).startswith(f"key {bad_name[:200]!r} does not name an upload: ")


@pytest.mark.parametrize(
    ("owner", "key_id", "role", "may"),
    [
        (7, 7, "editor", True),
        (7, 8, "editor", False),
        (None, 7, "editor", False),  # an upload nobody owns is nobody's but an admin's
        (7, 8, "admin", True),
        (None, 8, "admin", True),
        (7, 7, "reviewer", True),
    ],
)
def test_an_upload_is_its_owners_and_any_admins(owner, key_id, role, may) -> None:  # type: ignore[no-untyped-def]
    assert may_act_on(owner, key_id, role) is may


@pytest.mark.parametrize(
    ("count", "first", "page", "parts"),
    [
        (1, 1, 100, [1]),
        (10, 1, 3, [1, 2, 3]),
        (10, 9, 3, [9, 10]),  # never past the last part
        (10, 10, 1, [10]),
    ],
)
def test_part_pages(count: int, first: int, page: int, parts: list[int]) -> None:
    assert list(part_page(count, first, page)) == parts


@pytest.mark.parametrize("first", [0, 11, -1])
def test_a_part_page_outside_the_upload_is_refused(first: int) -> None:
    with pytest.raises(InvalidRequest) as refused:
        part_page(10, first, 5)
    assert str(refused.value) == f"first must be a part number from 1 to 10, got {first}"
