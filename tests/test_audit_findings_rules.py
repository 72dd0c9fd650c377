"""Audit rules down to the words ops read: each finding's detail, the run's markdown, the
edges of the re-hash budget (test_audit_rules.py has the table of which finding is which)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dailies.audit_rules import (
    BucketObject,
    CatalogEntry,
    Finding,
    LockState,
    chunked,
    diff_listing,
    judge_retention,
    latest_versions,
    markdown_summary,
    pick_for_rehash,
    rehash_budget,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=300)


def entry(key: str, size: int = 10) -> CatalogEntry:
    return CatalogEntry("sha-" + key, key, size, "COMPLIANCE", LATER)


def test_latest_versions_reads_pages_with_either_list_absent() -> None:
    pages = [
        {"DeleteMarkers": [{"Key": "a", "VersionId": "m1", "IsLatest": True}]},
        {"Versions": [{"Key": "b", "VersionId": "v1", "IsLatest": True}]},  # no Size: 0
        {},
    ]
    assert latest_versions(pages) == {
        "a": BucketObject("a", "m1", 0, is_delete_marker=True),
        "b": BucketObject("b", "v1", 0),
    }


def test_diff_findings_say_what_is_wrong() -> None:
    catalog = [entry("gone"), entry("hidden"), entry("resized")]
    latest = {
        "hidden": BucketObject("hidden", "2", 0, is_delete_marker=True),
        "resized": BucketObject("resized", "1", 11),
        "stray": BucketObject("stray", "1", 3),
    }
    assert diff_listing(catalog, latest) == [
        Finding("missing", "gone", "sha-gone", "the catalog lists it; no object at its key"),
        Finding(
            "missing", "hidden", "sha-hidden", "the catalog lists it; a delete marker hides it"
        ),
        Finding(
            "size_mismatch", "resized", "sha-resized", "bucket has 11 bytes, the catalog says 10"
        ),
        Finding("orphaned", "stray", None, "3 bytes with no catalog row"),
    ]


@pytest.mark.parametrize(
    ("lock", "required", "detail"),
    [
        (
            LockState("k", None, LATER),
            "COMPLIANCE",
            "no Object Lock retention on the current version",
        ),
        (
            LockState("k", "COMPLIANCE", None),
            "COMPLIANCE",
            "no Object Lock retention on the current version",
        ),
        (
            LockState("k", "COMPLIANCE", NOW, legal_hold=True),
            "COMPLIANCE",
            f"retention lapsed at {NOW.isoformat()} (a legal hold still protects it)",
        ),
        (
            LockState("k", "SOMETHING", LATER),
            "GOVERNANCE",
            "mode SOMETHING is weaker than the configured GOVERNANCE",
        ),
        (
            LockState("k", "COMPLIANCE", LATER - timedelta(seconds=1)),
            "COMPLIANCE",
            f"retain-until {(LATER - timedelta(seconds=1)).isoformat()} is earlier than the "
            f"recorded {LATER.isoformat()}",
        ),
    ],
)
def test_retention_findings_say_what_is_wrong(lock: LockState, required: str, detail: str) -> None:
    assert judge_retention(entry("k"), lock, required, NOW) == Finding(
        "retention_lapsed", "k", "sha-k", detail
    )


def test_retention_in_force_until_a_second_from_now_is_fine() -> None:
    lock = LockState("k", "COMPLIANCE", NOW + timedelta(seconds=1))
    record = CatalogEntry("sha-k", "k", 10, "COMPLIANCE", NOW)
    assert judge_retention(record, lock, "COMPLIANCE", NOW) is None


@pytest.mark.parametrize(
    ("configured", "total", "days", "budget"),
    [(0, 100, 1, 100), (0, 100, 0, 100), (0, 100, 3, 34), (50, 100, 3, 50)],
)
def test_rehash_budget_covers_everything_within_the_reverify_days(
    configured: int, total: int, days: int, budget: int
) -> None:
    assert rehash_budget(configured, total, days) == budget


def test_a_budget_of_one_byte_still_rehashes_the_oldest_master() -> None:
    assert pick_for_rehash([entry("a", 10), entry("b", 10)], 1) == [entry("a", 10)]
    assert pick_for_rehash([entry("a", 10)], 0) == []


def test_a_clean_audit_summary() -> None:
    assert markdown_summary(3, 1024, []) == "\n".join(
        [
            "# Masters integrity audit: clean",
            "",
            "- objects checked: 3",
            "- bytes re-hashed: 1024",
            "",
            "| kind | count |",
            "| --- | --- |",
            "| missing | 0 |",
            "| orphaned | 0 |",
            "| size_mismatch | 0 |",
            "| checksum_mismatch | 0 |",
            "| retention_lapsed | 0 |",
        ]
    )


def test_an_audit_summary_lists_its_findings() -> None:
    findings = [Finding("orphaned", "k", None, "3 bytes with no catalog row")]
    assert markdown_summary(1, 0, findings).split("\n")[0] == (
        "# Masters integrity audit: 1 finding(s)"
    )
    assert markdown_summary(1, 0, findings).split("\n")[8:] == [
        "| orphaned | 1 |",
        "| size_mismatch | 0 |",
        "| checksum_mismatch | 0 |",
        "| retention_lapsed | 0 |",
        "",
        "| kind | key | detail |",
        "| --- | --- | --- |",
        "| orphaned | `k` | 3 bytes with no catalog row |",
    ]


@pytest.mark.parametrize(
    ("count", "rows", "more"), [(200, 200, None), (201, 200, 1), (250, 200, 50)]
)
def test_an_audit_summary_lists_at_most_200_findings(
    count: int, rows: int, more: int | None
) -> None:
    findings = [Finding("missing", f"k{i}", None, "x") for i in range(count)]
    lines = markdown_summary(count, 0, findings).split("\n")
    assert sum(line.startswith("| missing | `k") for line in lines) == rows
    tail = f"| … | | {more} more in the audit_findings table |"
    assert (lines[-1] == tail) if more else lines[-1].startswith("| missing | `k199`")


@pytest.mark.parametrize(
    ("items", "size", "chunks"),
    [([1, 2, 3, 4, 5, 6, 7], 3, [[1, 2, 3], [4, 5, 6], [7]]), ([1, 2], 5, [[1, 2]]), ([], 3, [])],
)
def test_chunked(items: list[int], size: int, chunks: list[list[int]]) -> None:
    assert chunked(items, size) == chunks
