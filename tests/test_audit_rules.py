"""Pure audit rules, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dailies.audit_rules import (
    BucketObject,
    CatalogEntry,
    LockState,
    count_by_kind,
    diff_listing,
    judge_retention,
    latest_versions,
    markdown_summary,
    pick_for_rehash,
    rehash_budget,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=300)


def entry(key: str, size: int = 10, verified: datetime | None = None) -> CatalogEntry:
    return CatalogEntry(key, key, size, "COMPLIANCE", LATER, verified)


def test_latest_versions_keeps_the_newest_version_or_delete_marker() -> None:
    pages = [
        {
            "Versions": [
                {"Key": "a", "VersionId": "1", "Size": 5, "IsLatest": False},
                {"Key": "b", "VersionId": "3", "Size": 7, "IsLatest": True},
            ],
            "DeleteMarkers": [{"Key": "a", "VersionId": "2", "IsLatest": True}],
        },
        {"Versions": [{"Key": "c", "VersionId": "4", "Size": 9, "IsLatest": True}]},
    ]
    latest = latest_versions(pages)
    assert latest["a"].is_delete_marker
    assert latest["b"] == BucketObject("b", "3", 7)
    assert latest["c"].size_bytes == 9


def test_diff_reports_missing_orphaned_and_size_mismatch_once_each() -> None:
    catalog = [entry("gone"), entry("hidden"), entry("resized"), entry("fine")]
    latest = {
        "hidden": BucketObject("hidden", "2", 0, is_delete_marker=True),
        "resized": BucketObject("resized", "1", 11),
        "fine": BucketObject("fine", "1", 10),
        "stray": BucketObject("stray", "1", 3),
        "stray-deleted": BucketObject("stray-deleted", "1", 0, is_delete_marker=True),
    }
    found = {(f.kind, f.key) for f in diff_listing(catalog, latest)}
    assert found == {
        ("missing", "gone"),
        ("missing", "hidden"),
        ("size_mismatch", "resized"),
        ("orphaned", "stray"),
    }


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
    findings = diff_listing([entry("gone")], {})
    counts = count_by_kind(findings)
    assert counts == {
        "missing": 1,
        "orphaned": 0,
        "size_mismatch": 0,
        "checksum_mismatch": 0,
        "retention_lapsed": 0,
    }
    text = markdown_summary(1, 0, findings)
    assert "1 finding(s)" in text and "| missing | 1 |" in text and "`gone`" in text
