"""Pure rules: sha validation, staging keys, copy planning, retention, copy verification."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from dailies.copy_plan import MAX_PARTS, MIN_PART_BYTES, choose_part_size, plan_copy_parts
from dailies.errors import CopyVerificationFailed, InvalidSha256, InvalidStagingKey
from dailies.hashing import normalize_sha256, sha256_of_chunks
from dailies.promotion_rules import (
    retain_until_from,
    retention_needs_update,
    validate_promotion_request,
    verify_copy,
)

SHA = hashlib.sha256(b"x").hexdigest()
MiB = 1024**2
GiB = 1024**3


@pytest.mark.parametrize(
    "value, expected",
    [(SHA, SHA), (SHA.upper(), SHA), (f"  {SHA}\n", SHA)],
)
def test_sha256_is_normalised(value: str, expected: str) -> None:
    assert normalize_sha256(value) == expected


@pytest.mark.parametrize(
    "value", ["", "abc", SHA[:-1], SHA + "0", "g" * 64, SHA[:32] + " " + SHA[33:]]
)
def test_malformed_sha256_is_refused_with_its_length(value: str) -> None:
    with pytest.raises(InvalidSha256, match="64 hexadecimal"):
        normalize_sha256(value)


def test_hashing_chunks_matches_hashlib_and_counts_bytes() -> None:
    chunks = [b"a" * 10, b"", b"b" * 7]
    assert sha256_of_chunks(iter(chunks)) == (hashlib.sha256(b"a" * 10 + b"b" * 7).hexdigest(), 17)


@pytest.mark.parametrize(
    "key",
    [
        "masters/x.mov",
        "uploads/",
        "uploads/a/",
        "uploads/../secrets.txt",
        "uploads/a/../../b",
        "uploads//a.mov",
        "uploads/a/\x00.mov",
        "",
        "/uploads/a.mov",
    ],
)
def test_staging_key_outside_uploads_is_refused(key: str) -> None:
    with pytest.raises(InvalidStagingKey):
        validate_promotion_request(key, SHA)


def test_valid_request_normalises_sha() -> None:
    request = validate_promotion_request("uploads/u1/clip.mov", SHA.upper())
    assert (request.staging_key, request.sha256) == ("uploads/u1/clip.mov", SHA)


@pytest.mark.parametrize(
    "size, preferred, parts, last_size",
    [
        (0, 8 * MiB, 0, None),
        (1, 8 * MiB, 1, 1),
        (8 * MiB, 8 * MiB, 1, 8 * MiB),
        (8 * MiB + 1, 8 * MiB, 2, 1),
        (12 * MiB, 1, 3, 2 * MiB),  # preferred below S3's 5 MiB minimum is raised
    ],
)
def test_copy_parts_cover_the_object_exactly(
    size: int, preferred: int, parts: int, last_size: int | None
) -> None:
    planned = plan_copy_parts(size, preferred)
    assert len(planned) == parts
    assert [p.part_number for p in planned] == list(range(1, parts + 1))
    covered = sum(p.last_byte - p.first_byte + 1 for p in planned)
    assert covered == size
    for before, after in zip(planned, planned[1:], strict=False):
        assert after.first_byte == before.last_byte + 1
        assert before.last_byte - before.first_byte + 1 >= MIN_PART_BYTES
    if planned:
        assert planned[-1].last_byte - planned[-1].first_byte + 1 == last_size
        assert planned[0].copy_source_range.startswith("bytes=0-")


def test_part_size_grows_to_stay_within_ten_thousand_parts() -> None:
    size = 5 * 1024 * GiB  # 5 TiB, S3's largest object
    part = choose_part_size(size, 8 * MiB)
    assert -(-size // part) <= MAX_PARTS
    with pytest.raises(ValueError):
        choose_part_size(10_001 * 5 * GiB, 8 * MiB)


def test_retain_until_is_whole_seconds_in_utc() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    assert retain_until_from(now, 365) == datetime(2027, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "current, needs",
    [
        (None, True),
        (("GOVERNANCE", datetime(2030, 1, 1, tzinfo=UTC)), True),
        (("COMPLIANCE", datetime(2027, 1, 1, tzinfo=UTC)), True),
        (("COMPLIANCE", datetime(2028, 1, 1, tzinfo=UTC)), False),
        (("COMPLIANCE", datetime(2029, 1, 1, tzinfo=UTC)), False),
    ],
)
def test_retention_is_reasserted_only_when_weaker(current, needs) -> None:  # type: ignore[no-untyped-def]
    assert retention_needs_update(current, "COMPLIANCE", datetime(2028, 1, 1, tzinfo=UTC)) is needs


def _checksum(sha: str) -> str:
    return base64.b64encode(bytes.fromhex(sha)).decode()


def test_verify_copy_accepts_matching_size_and_checksum() -> None:
    verify_copy({"ContentLength": 1, "ChecksumSHA256": _checksum(SHA)}, 1, SHA)
    # multipart composite checksums are not comparable with the object's sha256
    verify_copy({"ContentLength": 1, "ChecksumSHA256": "abc=-3"}, 1, SHA)


@pytest.mark.parametrize(
    "head",
    [
        {"ContentLength": 2},
        {"ContentLength": 1, "ChecksumSHA256": _checksum(hashlib.sha256(b"y").hexdigest())},
        {"ContentLength": 1, "Metadata": {"sha256": "0" * 64}},
    ],
)
def test_verify_copy_refuses_a_different_object(head) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CopyVerificationFailed):
        verify_copy(head, 1, SHA)


def test_now_is_used_for_retention_math() -> None:
    later = retain_until_from(datetime.now(UTC), 1) - datetime.now(UTC)
    assert timedelta(hours=23) < later <= timedelta(days=1)
