"""Pure audit logic: diff the masters bucket against the catalog, judge retention, choose
what to re-hash. Inputs are plain records built by tasks/audit.py from S3 and SQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

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


def latest_versions(pages: Iterable[dict]) -> dict[str, BucketObject]:  # type: ignore[type-arg]
    """Reduce ListObjectVersions pages to the latest version or delete marker of each key."""
    latest: dict[str, BucketObject] = {}
    for page in pages:
        for version in page.get("Versions", []):
            if version.get("IsLatest"):
                latest[version["Key"]] = BucketObject(
                    version["Key"], version.get("VersionId"), int(version.get("Size", 0))
                )
        for marker in page.get("DeleteMarkers", []):
            if marker.get("IsLatest"):
                latest[marker["Key"]] = BucketObject(
                    marker["Key"], marker.get("VersionId"), 0, is_delete_marker=True
                )
    return latest


def diff_listing(catalog: Sequence[CatalogEntry], latest: dict[str, BucketObject]) -> list[Finding]:
    """Missing, orphaned and wrong-size objects. O(n) over both sides."""
    findings: list[Finding] = []
    expected = {entry.key: entry for entry in catalog}
    for entry in catalog:
        found = latest.get(entry.key)
        if found is None or found.is_delete_marker:
            how = "a delete marker hides it" if found else "no object at its key"
            findings.append(
                Finding("missing", entry.key, entry.sha256, f"the catalog lists it; {how}")
            )
        elif found.size_bytes != entry.size_bytes:
            findings.append(
                Finding(
                    "size_mismatch",
                    entry.key,
                    entry.sha256,
                    f"bucket has {found.size_bytes} bytes, the catalog says {entry.size_bytes}",
                )
            )
    for key, found in latest.items():
        if key not in expected and not found.is_delete_marker:
            findings.append(
                Finding("orphaned", key, None, f"{found.size_bytes} bytes with no catalog row")
            )
    return findings


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


def pick_for_rehash(entries: Sequence[CatalogEntry], budget_bytes: int) -> list[CatalogEntry]:
    """Oldest-verified first (never verified before all), until the byte budget is spent.

    The first pick is taken even when it alone exceeds the budget, so a huge master can
    never starve the rotation.
    """
    ordered = sorted(
        entries,
        key=lambda e: (e.last_verified_at is not None, e.last_verified_at or datetime.min, e.key),
    )
    picked: list[CatalogEntry] = []
    spent = 0
    for entry in ordered:
        if picked and spent + entry.size_bytes > budget_bytes:
            break
        picked.append(entry)
        spent += entry.size_bytes
    return picked if budget_bytes > 0 else []


def count_by_kind(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.kind for f in findings)
    return {kind: counts.get(kind, 0) for kind in KINDS}


def markdown_summary(checked: int, bytes_hashed: int, findings: Sequence[Finding]) -> str:
    counts = count_by_kind(findings)
    verdict = "clean" if not findings else f"{len(findings)} finding(s)"
    lines = [
        f"# Masters integrity audit: {verdict}",
        "",
        f"- objects checked: {checked}",
        f"- bytes re-hashed: {bytes_hashed}",
        "",
        "| kind | count |",
        "| --- | --- |",
        *(f"| {kind} | {n} |" for kind, n in counts.items()),
    ]
    if findings:
        lines += ["", "| kind | key | detail |", "| --- | --- | --- |"]
        lines += [f"| {f.kind} | `{f.key}` | {f.detail} |" for f in findings[:200]]
        if len(findings) > 200:
            lines.append(f"| … | | {len(findings) - 200} more in the audit_findings table |")
    return "\n".join(lines)


def chunked(items: Sequence, size: int) -> list[list]:  # type: ignore[type-arg]
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
