"""Pure audit rules, table-driven."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dailies.audit_report import count_by_kind, markdown_summary
from dailies.audit_rules import (
    BucketObject,
    CatalogEntry,
    Finding,
    LockState,
    Shard,
    StrayRange,
    in_retention_sample,
    judge_bucket_lock,
    judge_retention,
    latest_in_shard,
    merge_shard,
    needs_head,
    pick_for_rehash,
    plan_shards,
    rehash_budget,
    sample_period,
    stray_ranges,
    strays_in,
)
from dailies.errors import ListingOutOfOrder

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=300)


def entry(key: str, size: int = 10, verified: datetime | None = None) -> CatalogEntry:
    return CatalogEntry(key, key, size, "COMPLIANCE", LATER, verified)


def _page(*items: tuple[str, str, int | None, bool], more: bool = True) -> dict[str, Any]:
    """A ListObjectVersions page from (key, version, size or None for a delete marker,
    is latest), in the store's order: keys ascending, each key's versions newest first."""
    return {
        "Versions": [
            {"Key": k, "VersionId": v, "Size": n, "IsLatest": latest}
            for k, v, n, latest in items
            if n is not None
        ],
        "DeleteMarkers": [
            {"Key": k, "VersionId": v, "IsLatest": latest} for k, v, n, latest in items if n is None
        ],
        "IsTruncated": more,
    }


KEYS = ["", "0", "0f", "0g", "1", "10", "9z", ":", "A", "Z", "_x", "a", "f", "ff", "fz", "g"]
# Three-hex-digit prefixes at every carry and a stride through the rest: every key checked
# against every shard and gap, so 4096 prefixes x 4096 shards would cost minutes (mutmut's
# stats run timed out on it), where these cover the same boundaries.
EDGES = (0, 1, 15, 16, 17, 255, 256, 257, 2047, 2048, 4094, 4095)
PREFIXES = sorted({*EDGES, *range(0, 4096, 131)})
KEYS += ["z", "é", "README", "s3://m", *(format(i, "03x") + "ab" for i in PREFIXES)]


@pytest.mark.parametrize("count", [1, 16, 256, 4096])
def test_every_key_falls_in_exactly_one_shard_or_stray_range(count: int) -> None:
    shards = plan_shards(count)
    gaps = stray_ranges(shards)
    assert len(shards) == count
    for key in KEYS:
        places = [s.name for s in shards if s.holds(key)] + [g for g in gaps if g.holds(key)]
        assert len(places) == 1, (count, key, places)


def test_shards_and_the_gaps_between_them() -> None:
    shards = plan_shards(16)
    assert [(s.name, s.prefix, s.after_prefix) for s in shards[9:11]] == [
        ("9", "9", ":"),
        ("a", "a", "b"),
    ]
    assert plan_shards(1) == [Shard("")] and plan_shards(1)[0].name == "all"
    assert [s.prefix for s in plan_shards(256)[::255]] == ["00", "ff"]
    assert [s.prefix for s in plan_shards(4096)[:2]] == ["000", "001"]
    assert stray_ranges(plan_shards(1)) == []
    assert stray_ranges(shards) == [
        StrayRange(None, "0"),
        StrayRange("9\U0010ffff", "a"),
        StrayRange("f\U0010ffff", None),
    ]
    assert len(stray_ranges(plan_shards(256))) == 1 + 16 + 16  # 0g…0z, …, 9:…9`, ff…
    with pytest.raises(ValueError, match="^shard count must be 1, 16, 256 or 4096, not 10$"):
        plan_shards(10)


def test_strays_are_orphans_and_the_listing_stops_past_the_gap() -> None:
    gap = StrayRange("9\U0010ffff", "a")
    pages = [
        {"Contents": [{"Key": "A", "Size": 3}, {"Key": "Z"}]},
        {"Contents": [{"Key": "_x", "Size": 1}, {"Key": "a0", "Size": 9}]},
        {"Contents": [{"Key": "b0", "Size": 9}]},
    ]
    seen: list[int] = []

    def tracked() -> Any:
        for n, page in enumerate(pages):
            seen.append(n)
            yield page

    assert list(strays_in(tracked(), gap)) == [
        Finding("orphaned", "A", None, "3 bytes with no catalog row"),
        Finding("orphaned", "Z", None, "0 bytes with no catalog row"),
        Finding("orphaned", "_x", None, "1 bytes with no catalog row"),
    ]
    assert seen == [0, 1]  # the page that went past the gap was the last fetched
    assert not gap.holds("9\U0010ffff") and gap.holds("9\U0010ffff0") and not gap.holds("a")


def test_a_key_at_the_gaps_end_stops_the_listing_and_an_empty_page_has_no_contents() -> None:
    """ListObjectsV2 leaves Contents out of a page with no keys; a key equal to the gap's
    end is the first shard's, not a stray, and no page after it is fetched."""
    gap = StrayRange(None, "0")
    pages = [{"KeyCount": 0}, {"Contents": [{"Key": "-", "Size": 2}, {"Key": "0", "Size": 5}]}]
    seen: list[int] = []

    def tracked() -> Any:
        for n, page in enumerate([*pages, {"Contents": [{"Key": "1", "Size": 1}]}]):
            seen.append(n)
            yield page

    assert list(strays_in(tracked(), gap)) == [
        Finding("orphaned", "-", None, "2 bytes with no catalog row")
    ]
    assert seen == [0, 1]
    assert list(strays_in([{}], StrayRange("f\U0010ffff", None))) == []


def test_the_latest_of_each_key_survives_page_boundaries() -> None:
    shard = Shard("1")
    pages = [
        _page(("1a", "3", None, True), ("1a", "2", 5, False)),
        _page(("1a", "1", 5, False), ("1b", "9", 7, True)),  # 1a's older version: page 2
        _page(("1c", "8", None, False), ("1c", "7", 4, True)),  # an older marker, the latest
        _page(("1d", "6", 2, True), more=False),
    ]
    assert list(latest_in_shard(pages, shard)) == [
        BucketObject("1a", "3", 0, is_delete_marker=True),
        BucketObject("1b", "9", 7),
        BucketObject("1c", "7", 4),
        BucketObject("1d", "6", 2),
    ]


def test_a_listing_that_goes_backwards_is_refused() -> None:
    pages = [_page(("1b", "1", 1, True)), _page(("1a", "2", 1, True))]
    with pytest.raises(ListingOutOfOrder):
        list(latest_in_shard(pages, plan_shards(1)[0]))
    with pytest.raises(ListingOutOfOrder, match="catalog went from 'b' back to 'a'"):
        list(merge_shard([entry("b"), entry("a")], []))


def test_a_key_listed_twice_as_the_latest_is_refused() -> None:
    pages = [_page(("1a", "2", 1, True)), _page(("1a", "1", 1, True))]
    with pytest.raises(ListingOutOfOrder, match="^listing went from '1a' back to '1a'$"):
        list(latest_in_shard(pages, Shard("1")))


def test_keys_outside_the_shard_are_skipped_not_the_end_of_it() -> None:
    pages = [_page(("0f", "1", 1, True), ("1a", "2", 2, True), ("2b", "3", 3, True))]
    assert list(latest_in_shard(pages, Shard("1"))) == [BucketObject("1a", "2", 2)]
    pages = [_page(("0f", "1", 1, True), ("1a", "2", 2, True), ("1b", "3", 3, True))]
    assert [o.key for o in latest_in_shard(pages, Shard("1"))] == ["1a", "1b"]


def test_a_merge_with_either_side_empty_or_ending_early() -> None:
    assert list(merge_shard([], [])) == []
    assert list(merge_shard([], [BucketObject("a", "1", 4)])) == [
        Finding("orphaned", "a", None, "4 bytes with no catalog row")
    ]
    assert list(merge_shard([entry("a"), entry("z")], [BucketObject("a", "1", 10)])) == [
        entry("a"),
        Finding("missing", "z", "z", "the catalog lists it; no object at its key"),
    ]


def _split(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@pytest.mark.parametrize("page_size", [1, 2, 3, 1000])
def test_planted_faults_are_found_once_each_across_page_boundaries(page_size: int) -> None:
    """A catalog and a listing as pages of `page_size` (the faults land on either side of
    a boundary): a key hidden by a delete marker, one whose every version was deleted, an
    orphan, a wrong size, an orphan that is only a delete marker (nothing to report)."""
    keys = [format(i, "02x") for i in range(0, 40, 3)]
    hidden, deleted, resized, orphan, marker_only = keys[1], keys[4], keys[7], "1f", "20"
    catalog = [entry(k) for k in keys]
    listing: list[tuple[str, str, int | None, bool]] = []
    for k in sorted([*keys, orphan, marker_only]):
        if k == hidden:
            listing += [(k, "m", None, True), (k, "v", 10, False)]
        elif k == marker_only:
            listing += [(k, "m", None, True)]
        elif k != deleted:
            listing += [(k, "v", 11 if k == resized else 10, True)]
    pages = [_page(*chunk) for chunk in _split(listing, page_size)]
    catalog_pages = _split(catalog, page_size)

    merged = list(
        merge_shard(
            (e for page in catalog_pages for e in page),
            latest_in_shard(iter(pages), plan_shards(1)[0]),
        )
    )

    findings = [m for m in merged if isinstance(m, Finding)]
    assert sorted((f.kind, f.key) for f in findings) == sorted(
        [
            ("missing", deleted),
            ("missing", hidden),
            ("orphaned", orphan),
            ("size_mismatch", resized),
        ]
    )
    intact = [m.key for m in merged if isinstance(m, CatalogEntry)]
    assert intact == [k for k in keys if k not in {hidden, deleted, resized}]
    assert len(merged) == len(keys) + 1  # one item per key with a row or a live object


def test_two_rows_naming_one_key_are_each_compared() -> None:
    merged = list(merge_shard([entry("a"), entry("a", 11)], [BucketObject("a", "1", 10)]))
    assert [type(m).__name__ for m in merged] == ["CatalogEntry", "Finding"]


@pytest.mark.parametrize(
    "lock, required, problem",
    [
        (LockState("k", "COMPLIANCE", LATER), "COMPLIANCE", None),
        (LockState("k", "COMPLIANCE", LATER + timedelta(days=1)), "COMPLIANCE", None),
        (LockState("k", "COMPLIANCE", LATER), "GOVERNANCE", None),
        (LockState("k", None, None), "COMPLIANCE", "no Object Lock"),
        (LockState("k", "COMPLIANCE", NOW - timedelta(seconds=1)), "COMPLIANCE", "lapsed"),
        (LockState("k", "GOVERNANCE", LATER), "COMPLIANCE", "weaker"),
        (LockState("k", "COMPLIANCE", LATER - timedelta(days=1)), "COMPLIANCE", "earlier"),
        (LockState("k", None, None, legal_hold=True), "COMPLIANCE", "legal hold"),
    ],
)
def test_retention_judgement(lock: LockState, required: str, problem: str | None) -> None:
    finding = judge_retention(entry("k"), lock, required, NOW)
    if problem is None:
        assert finding is None
    else:
        assert finding is not None and finding.kind == "retention_lapsed"
        assert problem in finding.detail and finding.critical


def test_rehash_picks_never_verified_then_oldest_within_budget() -> None:
    entries = [
        entry("recent", 10, NOW),
        entry("old", 10, NOW - timedelta(days=20)),
        entry("never", 10, None),
        entry("older", 10, NOW - timedelta(days=40)),
    ]
    assert [e.key for e in pick_for_rehash(entries, 30)] == ["never", "older", "old"]
    assert [e.key for e in pick_for_rehash(entries, 5)] == ["never"]  # first pick always goes
    assert pick_for_rehash(entries, 0) == []


def test_budget_grows_so_every_master_is_reverified_in_time() -> None:
    assert rehash_budget(100, 1000, 30) == 100
    assert rehash_budget(10, 3000, 30) == 100
    assert rehash_budget(0, 31, 30) == 2


def test_summary_lists_every_kind() -> None:
    findings = [Finding("missing", "gone", "sha", "the catalog lists it; no object at its key")]
    counts = count_by_kind(findings)
    assert counts == {
        "missing": 1,
        "orphaned": 0,
        "size_mismatch": 0,
        "checksum_mismatch": 0,
        "retention_lapsed": 0,
    }
    text = markdown_summary(1, 0, counts, list(enumerate(findings, 1)), 7)
    assert "1 finding(s)" in text and "| missing | 1 |" in text and "`gone`" in text


def test_the_head_sample_visits_every_master_once_per_period() -> None:
    """The rotation behind the README's promise: at 1 % a night, a shortened retention on
    any master is seen within 100 nights."""
    keys = [format(i, "064x") for i in range(2000)]
    period = sample_period(1.0)
    assert period == 100 and sample_period(100) == 1 and sample_period(10) == 10
    start = datetime(2026, 12, 7).date()
    days = [start + timedelta(days=d) for d in range(period)]
    for key in keys:
        assert sum(in_retention_sample(key, day, period) for day in days) == 1
    tonight = sum(in_retention_sample(k, start, period) for k in keys)
    assert 5 <= tonight <= 40  # about 1 % of 2000


def test_a_masters_sample_slot_is_its_hash_and_does_not_move() -> None:
    """The slot is the key's sha256, first 8 bytes big-endian, modulo the period. Another
    formula would move masters to other nights, and one moved past tonight's would wait up
    to two periods for its HEAD."""
    first = date(2026, 12, 7).toordinal()
    for key in ["a", "README", *(format(i, "064x") for i in range(5))]:
        for period in (7, 100):
            slot = int(hashlib.sha256(key.encode()).hexdigest()[:16], 16) % period
            days = range(first, first + period)
            sampled = [d for d in days if in_retention_sample(key, date.fromordinal(d), period)]
            assert [d % period for d in sampled] == [slot], (key, period)


@pytest.mark.parametrize(
    ("mode", "until", "head"),
    [
        ("COMPLIANCE", LATER, False),  # far, as strong as configured, not sampled
        ("COMPLIANCE", NOW + timedelta(days=30), True),  # ends within near_days
        ("COMPLIANCE", NOW - timedelta(days=1), True),  # recorded as lapsed
        ("GOVERNANCE", LATER, True),  # recorded weaker than the configured mode
        ("SOMETHING", LATER, True),  # a mode we do not know is no protection
    ],
)
def test_which_masters_are_headed_tonight(mode: str, until: datetime, head: bool) -> None:
    key = next(k for k in (format(i, "064x") for i in range(100)) if not _sampled(k))
    record = CatalogEntry(key, key, 10, mode, until)
    assert needs_head(record, "COMPLIANCE", NOW, 30, 100) is head
    assert needs_head(record, "COMPLIANCE", NOW, 30, 1) is True  # a 100 % sample


def test_an_unknown_recorded_mode_is_weaker_than_governance() -> None:
    key = next(k for k in (format(i, "064x") for i in range(100)) if not _sampled(k))
    for mode, head in [("SOMETHING", True), ("GOVERNANCE", False), ("COMPLIANCE", False)]:
        record = CatalogEntry(key, key, 10, mode, LATER)
        assert needs_head(record, "GOVERNANCE", NOW, 30, 100) is head, mode


def _sampled(key: str) -> bool:
    return in_retention_sample(key, NOW.date(), 100)


def test_a_bucket_without_object_lock_is_a_finding() -> None:
    assert judge_bucket_lock("m", {"ObjectLockEnabled": "Enabled"}) is None
    finding = judge_bucket_lock("m", None)
    assert finding is not None and finding.kind == "retention_lapsed" and finding.critical
    assert finding.key == "s3://m"
