"""Pure audit logic: split the key space into shards, merge one shard's bucket listing with
its catalog rows (both streamed in key order, constant memory), choose what to HEAD for
retention and what to re-hash. Inputs are plain records built by tasks/audit.py from S3
and SQL; the report (summary, artifact table) is in dailies/audit_report.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from dailies.errors import ListingOutOfOrder

KINDS = ("missing", "orphaned", "size_mismatch", "checksum_mismatch", "retention_lapsed")
CRITICAL_KINDS = frozenset({"missing", "checksum_mismatch", "retention_lapsed"})
_MODE_STRENGTH = {"GOVERNANCE": 1, "COMPLIANCE": 2}


@dataclass(frozen=True)
class CatalogEntry:
    sha256: str
    key: str
    size_bytes: int
    retention_mode: str
    retain_until: datetime
    last_verified_at: datetime | None = None


@dataclass(frozen=True)
class BucketObject:
    """The latest version (or delete marker) of one key."""

    key: str
    version_id: str | None
    size_bytes: int
    is_delete_marker: bool = False


@dataclass(frozen=True)
class LockState:
    key: str
    mode: str | None
    retain_until: datetime | None
    legal_hold: bool = False


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    sha256: str | None
    detail: str

    @property
    def critical(self) -> bool:
        return self.kind in CRITICAL_KINDS


@dataclass(frozen=True)
class Shard:
    """The keys that start with `prefix` ("" for all): one ListObjectVersions listing with
    that Prefix, and the catalog rows in [prefix, after_prefix)."""

    prefix: str

    @property
    def name(self) -> str:
        return self.prefix or "all"

    @property
    def after_prefix(self) -> str | None:
        """The first string past every key with the prefix; None when there is none."""
        return _successor(self.prefix) if self.prefix else None

    def holds(self, key: str) -> bool:
        return key.startswith(self.prefix)


def _successor(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# Sorts after every character a key holds in practice (S3 keys are UTF-8).
_LAST_CHAR = "\U0010ffff"


def plan_shards(count: int) -> list[Shard]:
    """`count` shards (1, 16, 256 or 4096) at the hex prefixes of that width, so a catalog
    of sha256 keys spreads evenly. Python compares str by code point, which is the UTF-8
    byte order S3 lists in (and Postgres' "C" collation, SQLite's BINARY)."""
    width = {1: 0, 16: 1, 256: 2, 4096: 3}.get(count)
    if width is None:
        raise ValueError(f"shard count must be 1, 16, 256 or 4096, not {count}")
    return [Shard(format(i, f"0{width}x") if width else "") for i in range(count)]


@dataclass(frozen=True)
class StrayRange:
    """Keys after `start_after` (None: from the first) and before `before` (None: to the
    end) that no shard's prefix holds: `README`, `Z…`, `0g…`. dailies never writes such a
    key, so the catalog has no row there: whatever lives there is an orphan."""

    start_after: str | None
    before: str | None

    def holds(self, key: str) -> bool:
        return (self.start_after is None or key > self.start_after) and (
            self.before is None or key < self.before
        )


def stray_ranges(shards: Sequence[Shard]) -> list[StrayRange]:
    """The gaps between the shards' prefixes (three at 16 shards: before `0`, between `9`
    and `a`, after `f`), listed with ListObjectsV2 StartAfter. A key with a prefix and then
    U+10FFFF would be listed twice; no content address looks like that."""
    prefixes = sorted(s.prefix for s in shards)
    if prefixes == [""]:
        return []
    gaps = [StrayRange(None, prefixes[0])]
    for here, there in pairwise(prefixes):
        if _successor(here) != there:
            gaps.append(StrayRange(here + _LAST_CHAR, there))
    gaps.append(StrayRange(prefixes[-1] + _LAST_CHAR, None))
    return gaps


def strays_in(pages: Iterable[dict[str, Any]], gap: StrayRange) -> Iterator[Finding]:
    """An orphan finding for each live object in the gap, from ListObjectsV2 pages that
    start after its start; stops at the first key past it."""
    for page in pages:
        for item in page.get("Contents", []):
            if gap.before is not None and item["Key"] >= gap.before:
                return
            if gap.holds(item["Key"]):
                detail = f"{int(item.get('Size', 0))} bytes with no catalog row"
                yield Finding("orphaned", item["Key"], None, detail)


def latest_in_shard(pages: Iterable[dict[str, Any]], shard: Shard) -> Iterator[BucketObject]:
    """The latest version or delete marker of each of the shard's keys, in key order, from
    ListObjectVersions pages listed with the shard's Prefix.

    A page holds its keys in order, each key's versions newest first, versions and delete
    markers in two lists; a key's versions may run on into the next page, but its latest
    (IsLatest) is always on the first page that holds it."""
    last: str | None = None
    for page in pages:
        versions, markers = page.get("Versions", []), page.get("DeleteMarkers", [])
        latest = [
            BucketObject(v["Key"], v.get("VersionId"), int(v.get("Size", 0)))
            for v in versions
            if v.get("IsLatest")
        ] + [
            BucketObject(m["Key"], m.get("VersionId"), 0, is_delete_marker=True)
            for m in markers
            if m.get("IsLatest")
        ]
        latest.sort(key=lambda found: found.key)
        for found in latest:
            if not shard.holds(found.key):
                continue
            if last is not None and found.key <= last:
                raise ListingOutOfOrder(f"listing went from {last!r} back to {found.key!r}")
            last = found.key
            yield found


def _ascending(entries: Iterable[CatalogEntry]) -> Iterator[CatalogEntry]:
    last: str | None = None
    for entry in entries:
        if last is not None and entry.key < last:
            raise ListingOutOfOrder(f"catalog went from {last!r} back to {entry.key!r}")
        last = entry.key
        yield entry


def merge_shard(
    catalog: Iterable[CatalogEntry], bucket: Iterable[BucketObject]
) -> Iterator[Finding | CatalogEntry]:
    """A sorted merge of one shard's catalog rows and its bucket's latest versions, both in
    key order: a Finding for each missing, wrong-size or orphaned key, and the catalog entry
    of each master found whole (for the retention check and the re-hash). One item per key
    (a key that is only a delete marker yields nothing); memory: one item of each stream."""
    rows, objects = _ascending(catalog), iter(bucket)
    entry, found = next(rows, None), next(objects, None)
    while entry is not None or found is not None:
        if found is None or (entry is not None and entry.key < found.key):
            assert entry is not None
            yield Finding(
                "missing", entry.key, entry.sha256, "the catalog lists it; no object at its key"
            )
            entry = next(rows, None)
        elif entry is None or found.key < entry.key:
            if not found.is_delete_marker:
                detail = f"{found.size_bytes} bytes with no catalog row"
                yield Finding("orphaned", found.key, None, detail)
            found = next(objects, None)
        else:
            yield compare_with_object(entry, found)
            entry = next(rows, None)
            if entry is None or entry.key != found.key:  # two rows may name one key
                found = next(objects, None)


def compare_with_object(entry: CatalogEntry, found: BucketObject) -> Finding | CatalogEntry:
    if found.is_delete_marker:
        detail = "the catalog lists it; a delete marker hides it"
        return Finding("missing", entry.key, entry.sha256, detail)
    if found.size_bytes != entry.size_bytes:
        detail = f"bucket has {found.size_bytes} bytes, the catalog says {entry.size_bytes}"
        return Finding("size_mismatch", entry.key, entry.sha256, detail)
    return entry


def judge_bucket_lock(bucket: str, configuration: dict[str, Any] | None) -> Finding | None:
    """The bucket's Object Lock, read once a run (GetObjectLockConfiguration): without it
    no version is protected, whatever the catalog records. A default retention is not
    required: promotion locks each master explicitly."""
    if (configuration or {}).get("ObjectLockEnabled") == "Enabled":
        return None
    detail = "Object Lock is not enabled on the masters bucket: no version is protected"
    return Finding("retention_lapsed", f"s3://{bucket}", None, detail)


def sample_period(percent: float) -> int:
    """Days for the rolling HEAD sample to visit every master once."""
    return max(1, round(100 / percent))


def in_retention_sample(key: str, day: date, period: int) -> bool:
    """A rotation, not a random draw: each key has a slot in 0..period-1 (from its hash),
    and is HEADed on the days whose ordinal falls in its slot, so every master is HEADed
    exactly once in any `period` consecutive days."""
    slot = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % period
    return slot == day.toordinal() % period


def needs_head(
    entry: CatalogEntry, required_mode: str, now: datetime, near_days: int, period: int
) -> bool:
    """HEAD this master tonight: its recorded retention is weaker than configured or ends
    within `near_days` (or has ended), or it is in today's rolling sample."""
    weaker = _MODE_STRENGTH.get(entry.retention_mode, 0) < _MODE_STRENGTH[required_mode]
    near = entry.retain_until <= now + timedelta(days=near_days)
    return weaker or near or in_retention_sample(entry.key, now.date(), period)


def judge_retention(
    entry: CatalogEntry, lock: LockState, required_mode: str, now: datetime
) -> Finding | None:
    """Retention must be in force, at least as strong as configured and as recorded."""
    problem = None
    if lock.mode is None or lock.retain_until is None:
        problem = "no Object Lock retention on the current version"
    elif lock.retain_until <= now:
        problem = f"retention lapsed at {lock.retain_until.isoformat()}"
    elif _MODE_STRENGTH.get(lock.mode, 0) < _MODE_STRENGTH.get(required_mode, 0):
        problem = f"mode {lock.mode} is weaker than the configured {required_mode}"
    elif lock.retain_until < entry.retain_until:
        problem = (
            f"retain-until {lock.retain_until.isoformat()} is earlier than the recorded "
            f"{entry.retain_until.isoformat()}"
        )
    if problem is None:
        return None
    hold = " (a legal hold still protects it)" if lock.legal_hold else ""
    return Finding("retention_lapsed", entry.key, entry.sha256, problem + hold)


def rehash_budget(configured_bytes: int, total_bytes: int, reverify_days: int) -> int:
    """Enough per daily run that every master is re-hashed within `reverify_days`."""
    return max(configured_bytes, -(-total_bytes // max(reverify_days, 1)))


def take_within_budget(
    ordered: Iterable[CatalogEntry], budget_bytes: int
) -> Iterator[CatalogEntry]:
    """Entries in the order given until the byte budget is spent (a lazy stream: the
    catalog query behind it stops with it). The first is taken even when it alone exceeds
    the budget, so a huge master can never starve the rotation."""
    if budget_bytes <= 0:
        return
    spent = 0
    for n, entry in enumerate(ordered):
        if n and spent + entry.size_bytes > budget_bytes:
            return
        spent += entry.size_bytes
        yield entry


def rehash_order(entry: CatalogEntry) -> tuple[bool, datetime, str]:
    """Never verified first, then oldest-verified (the catalog query's ORDER BY)."""
    return (entry.last_verified_at is not None, entry.last_verified_at or datetime.min, entry.key)


def pick_for_rehash(entries: Sequence[CatalogEntry], budget_bytes: int) -> list[CatalogEntry]:
    return list(take_within_budget(sorted(entries, key=rehash_order), budget_bytes))


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    return list(batched(items, size))
