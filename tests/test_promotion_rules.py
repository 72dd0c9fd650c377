"""Pure rules: sha validation, staging keys, copy planning, retention, copy verification."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest

from dailies.copy_plan import (
    MAX_PARTS,
    MIN_PART_BYTES,
    choose_part_size,
    parts_still_to_copy,
    plan_copy_parts,
)
from dailies.errors import CopyVerificationFailed, InvalidSha256, InvalidStagingKey
from dailies.hashing import is_sha256, normalize_sha256, sha256_of_chunks
from dailies.promotion_rules import (
    AssetLink,
    asset_link,
    promotion_summary,
    retain_until_from,
    retention_needs_update,
    retry_wait_s,
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


def test_a_resumed_copy_copies_only_the_parts_the_upload_lacks() -> None:
    plan = plan_copy_parts(12 * MiB, 5 * MiB)  # 5, 5 and 2 MiB
    assert parts_still_to_copy(plan, {}) == plan
    # part 1 held whole, part 3 absent, part 2 held at another run's part size
    held = {1: 5 * MiB, 2: 4 * MiB, 4: 5 * MiB}
    assert [p.part_number for p in parts_still_to_copy(plan, held)] == [2, 3]
    assert parts_still_to_copy(plan, {1: 5 * MiB, 2: 5 * MiB, 3: 2 * MiB}) == []


def test_retain_until_is_whole_seconds_in_utc() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    assert retain_until_from(now, 365) == datetime(2027, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_retain_until_is_utc_on_a_machine_in_another_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Aware datetimes compare by instant, so only the offset shows a local-time result."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        until = retain_until_from(datetime(2026, 1, 1, 12, tzinfo=UTC), 1)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert until.isoformat() == "2026-01-02T12:00:00+00:00"


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


def test_a_staging_key_that_is_not_a_string_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidStagingKey, match="^staging_key must be a non-empty string$"):
        validate_promotion_request(None, SHA)  # type: ignore[arg-type]
    with pytest.raises(InvalidStagingKey, match="^staging_key must be a non-empty string$"):
        validate_promotion_request(["uploads/a.mov"], SHA)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key", ["uploads/a\x1f.mov", "uploads/a/", "uploads//a.mov", "uploads/a/./b.mov"]
)
def test_a_refused_staging_key_says_where_keys_come_from_and_echoes_it(key: str) -> None:
    with pytest.raises(InvalidStagingKey) as refused:
        validate_promotion_request(key, SHA)
    assert str(refused.value) == (
        "staging_key must name an object under 'uploads/' "
        f"(as returned by POST /api/uploads), got {key!r}"
    )


def test_a_refused_staging_key_is_echoed_at_most_200_characters() -> None:
    key = "masters/" + "k" * 300
    with pytest.raises(InvalidStagingKey) as refused:
        validate_promotion_request(key, SHA)
    assert str(refused.value).endswith(f"got {key[:200]!r}")


@pytest.mark.parametrize(
    "key", ["uploads/u1/clip with spaces.mov", "uploads/ü.mov", "uploads/u1/trailing space "]
)
def test_spaces_and_non_ascii_are_fine_in_a_staging_key(key: str) -> None:
    assert validate_promotion_request(key, SHA).staging_key == key


def test_retain_until_is_counted_in_utc_from_any_timezone() -> None:
    from datetime import timezone

    now = datetime(2026, 1, 1, 23, 30, 0, 5, tzinfo=timezone(timedelta(hours=-5)))
    until = retain_until_from(now, 1)
    assert until.utcoffset() == timedelta(0)
    assert until == datetime(2026, 1, 3, 4, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ({}, f"masters copy of {SHA} has -1 bytes, expected 1"),
        ({"ContentLength": 2}, f"masters copy of {SHA} has 2 bytes, expected 1"),
        (
            {"ContentLength": 1, "ChecksumSHA256": _checksum("0" * 64)},
            f"masters copy reports sha256 {'0' * 64}, expected {SHA}",
        ),
        (
            {"ContentLength": 1, "Metadata": {"sha256": "1" * 64}},
            f"masters object carries sha256 {'1' * 64}, expected {SHA}",
        ),
    ],
)
def test_verify_copy_names_what_differs(head, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CopyVerificationFailed) as refused:
        verify_copy(head, 1, SHA)
    assert str(refused.value) == message


def test_an_empty_copy_with_no_reported_length_is_refused() -> None:
    """A HEAD without ContentLength is not taken for a 0-byte (or 1-byte) object."""
    for size in (0, 1):
        with pytest.raises(CopyVerificationFailed, match="has -1 bytes"):
            verify_copy({}, size, SHA)


def test_verify_copy_accepts_matching_metadata_and_no_checksum() -> None:
    verify_copy({"ContentLength": 7, "Metadata": {"sha256": SHA}}, 7, SHA)
    verify_copy({"ContentLength": 7, "Metadata": None, "ChecksumSHA256": None}, 7, SHA)


def test_promotion_summary_is_the_table_ops_read() -> None:
    result = {
        "status": "promoted",
        "sha256": SHA,
        "size_bytes": 3 * 2**20 + 2**19,
        "masters_key": SHA,
        "version_id": "v1",
        "etag": '"e"',
        "retention_mode": "COMPLIANCE",
        "retain_until": "2027-01-01T00:00:00+00:00",
    }
    assert promotion_summary("uploads/u1/a.mov", result) == (
        "### Master promoted\n\n"
        "| | |\n"
        "| --- | --- |\n"
        "| outcome | promoted |\n"
        f"| sha256 | `{SHA}` |\n"
        "| size | 3,670,016 bytes (3.5 MiB) |\n"
        "| from (staging) | `uploads/u1/a.mov` |\n"
        f"| to (masters) | `{SHA}` |\n"
        "| version id | `v1` |\n"
        '| etag | `"e"` |\n'
        "| retention | COMPLIANCE until 2027-01-01T00:00:00+00:00 |\n"
    )


def test_promotion_summary_of_a_result_without_a_size_says_zero_bytes() -> None:
    summary = promotion_summary("uploads/u1/a.mov", {"status": "already_promoted"})
    assert "| outcome | already_promoted |\n" in summary
    assert "| size | 0 bytes (0.0 MiB) |\n" in summary
    assert "| version id | `None` |\n" in summary


@pytest.mark.parametrize(
    ("failures", "failed_s_ago", "wait"),
    [
        (0, 1, 0),  # never failed
        (1, None, 0),  # no time of failure known: nothing to wait for
        (1, 0, 30),
        (1, 10, 20),
        (1, 29.5, 1),  # a part of a second left is a whole second to the client
        (1, 30, 0),
        (1, 300, 0),  # long past: never negative
        (2, 10, 50),
        (3, 0, 120),
        (9, 0, 600),  # capped
    ],
)
def test_re_posting_a_failed_promotion_backs_off(failures, failed_s_ago, wait) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    failed_at = None if failed_s_ago is None else now - timedelta(seconds=failed_s_ago)
    assert retry_wait_s(failures, failed_at, now, base_s=30, max_s=600) == wait


def test_a_sha256_that_is_not_a_string_is_refused_with_its_type() -> None:
    with pytest.raises(InvalidSha256) as refused:
        normalize_sha256(5)  # type: ignore[arg-type]
    assert str(refused.value) == "sha256 must be a string, got int"


def test_a_malformed_sha256_is_echoed_at_most_80_characters() -> None:
    value = "z" * 100
    with pytest.raises(InvalidSha256) as refused:
        normalize_sha256(value)
    assert str(refused.value) == (
        f"sha256 must be 64 hexadecimal characters, got 100 characters: {value[:80]!r}"
    )


@pytest.mark.parametrize(
    ("value", "is_one"),
    [(SHA, True), (SHA.upper(), False), (f" {SHA}", False), ("abc", False), (None, False)],
)
def test_is_sha256_takes_only_the_normal_form(value, is_one) -> None:  # type: ignore[no-untyped-def]
    assert is_sha256(value) is is_one


@pytest.mark.parametrize(
    ("size", "preferred", "part"),
    [
        (10_000 * 5 * MiB, 5 * MiB, 5 * MiB),  # exactly 10,000 parts: no need to grow
        (10_000 * 5 * MiB + 1, 5 * MiB, 10 * MiB),  # one byte more: parts double
        (10_000 * 5 * GiB, 5 * MiB, 5 * GiB),  # S3's largest object in its largest parts
        (1, 6 * GiB, 5 * GiB),  # preferred above S3's 5 GiB part limit is lowered
    ],
)
def test_part_size_at_s3s_limits(size: int, preferred: int, part: int) -> None:
    assert choose_part_size(size, preferred) == part


def test_impossible_copies_say_why() -> None:
    with pytest.raises(ValueError) as negative:
        choose_part_size(-1, 8 * MiB)
    assert str(negative.value) == "size must not be negative"
    with pytest.raises(ValueError) as too_big:
        choose_part_size(10_000 * 5 * GiB + 1, 5 * MiB)
    assert str(too_big.value) == (
        f"{10_000 * 5 * GiB + 1} bytes exceed S3's largest object (10,000 x 5 GiB)"
    )


@pytest.mark.parametrize(
    ("asset", "link"),
    [
        (None, None),
        ({"scene": "12"}, None),  # no asset id: nothing to link
        # From the API: the caller's key, and whether it is an admin's, never the client's.
        ({"asset_id": "SHOT_1", "take": 3, "owner_key_id": 7, "owner_is_admin": False},
         AssetLink("SHOT_1", {"take": 3}, 7, repoints_any=False)),
        ({"asset_id": "SHOT_1", "owner_key_id": 7, "owner_is_admin": True},
         AssetLink("SHOT_1", {}, 7, repoints_any=True)),
        # A flag that is not exactly True, or an owner that is not a key id, grants nothing.
        ({"asset_id": "SHOT_1", "owner_key_id": 7, "owner_is_admin": "yes"},
         AssetLink("SHOT_1", {}, 7, repoints_any=False)),
        ({"asset_id": "SHOT_1", "owner_key_id": True, "owner_is_admin": False},
         AssetLink("SHOT_1", {}, None, repoints_any=False)),
        # Launched outside the API (`dailies promote --asset-id`, Prefect's UI): ops.
        ({"asset_id": "SHOT_1"}, AssetLink("SHOT_1", {}, None, repoints_any=True)),
    ],
)  # fmt: skip
def test_asset_link_takes_who_asks_from_the_api_only(
    asset: dict[str, object] | None, link: AssetLink | None
) -> None:
    assert asset_link(asset) == link
