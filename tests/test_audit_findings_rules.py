"""Audit rules down to the words ops read: each finding's detail, the run's markdown, the
edges of the re-hash budget (test_audit_rules.py has the table of which finding is which)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dailies.audit_report import SHOWN_FINDINGS, count_by_kind, findings_table, markdown_summary
from dailies.audit_rules import (
    BucketObject,
    CatalogEntry,
    Finding,
    LockState,
    chunked,
    judge_bucket_lock,
    judge_retention,
    latest_in_shard,
    merge_shard,
    pick_for_rehash,
    plan_shards,
    rehash_budget,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=300)


def entry(key: str, size: int = 10) -> CatalogEntry:
    return CatalogEntry("sha-" + key, key, size, "COMPLIANCE", LATER)


def test_latest_reads_pages_with_either_list_absent() -> None:
    pages = [
        {"DeleteMarkers": [{"Key": "a", "VersionId": "m1", "IsLatest": True}]},
        {"Versions": [{"Key": "b", "VersionId": "v1", "IsLatest": True}]},  # no Size: 0
        {},
    ]
    assert list(latest_in_shard(pages, plan_shards(1)[0])) == [
        BucketObject("a", "m1", 0, is_delete_marker=True),
        BucketObject("b", "v1", 0),
    ]


def test_merge_findings_say_what_is_wrong() -> None:
    catalog = [entry("gone"), entry("hidden"), entry("resized")]
    latest = [
        BucketObject("hidden", "2", 0, is_delete_marker=True),
        BucketObject("resized", "1", 11),
        BucketObject("stray", "1", 3),
    ]
    assert list(merge_shard(catalog, latest)) == [
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


def test_a_bucket_without_object_lock_says_so() -> None:
    detail = "Object Lock is not enabled on the masters bucket: no version is protected"
    for configuration in [None, {}, {"ObjectLockEnabled": "Disabled"}]:
        assert judge_bucket_lock("masters", configuration) == Finding(
            "retention_lapsed", "s3://masters", None, detail
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
    assert markdown_summary(3, 1024, count_by_kind([])) == "\n".join(
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
    text = markdown_summary(1, 0, count_by_kind(findings), [(41, findings[0])], 7)
    assert text.split("\n")[0] == "# Masters integrity audit: 1 finding(s)"
    assert text.split("\n")[8:] == [
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
    ("count", "more"),
    [(SHOWN_FINDINGS, 0), (SHOWN_FINDINGS + 1, 1), (10**6, 10**6 - SHOWN_FINDINGS)],
)
def test_a_summary_and_table_show_the_first_findings_and_say_where_the_rest_are(
    count: int, more: int
) -> None:
    """A million findings: counts, the first SHOWN_FINDINGS, and the query for the rest
    (after the last id shown), never a million rows."""
    shown = [
        (i + 1, Finding("missing", f"k{i}", None, "x")) for i in range(min(count, SHOWN_FINDINGS))
    ]
    counts = {**count_by_kind([]), "missing": count}
    lines = markdown_summary(count, 0, counts, shown, 9).split("\n")
    table = findings_table(shown, count, 9)
    assert sum(line.startswith("| missing | `k") for line in lines) == SHOWN_FINDINGS
    assert [r["key"] for r in table[:SHOWN_FINDINGS]] == [f"k{i}" for i in range(SHOWN_FINDINGS)]
    query = f"GET /api/audits/9/findings?after={SHOWN_FINDINGS}&limit=1000"
    if more:
        assert lines[-1].startswith(f"{more} more in the audit_findings table: {query}")
        assert len(table) == SHOWN_FINDINGS + 1 and table[-1]["kind"] == f"{more} more"
        assert "WHERE run_id = 9 AND id > 100 ORDER BY id" in table[-1]["detail"]
    else:
        assert lines[-1].startswith("| missing | `k99`") and len(table) == SHOWN_FINDINGS


def test_a_clean_run_has_a_one_row_table() -> None:
    assert findings_table([], 0, 3) == [
        {"id": "", "kind": "none", "key": "", "sha256": "", "detail": "no findings"}
    ]


@pytest.mark.parametrize(
    ("items", "size", "chunks"),
    [([1, 2, 3, 4, 5, 6, 7], 3, [[1, 2, 3], [4, 5, 6], [7]]), ([1, 2], 5, [[1, 2]]), ([], 3, [])],
)
def test_chunked(items: list[int], size: int, chunks: list[list[int]]) -> None:
    assert chunked(items, size) == chunks
