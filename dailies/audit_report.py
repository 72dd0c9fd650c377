"""What an audit run tells people: counts of every kind, the first findings, and where the
rest are. Never a row per finding: a million-master audit may have a million."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dailies.audit_rules import KINDS, Finding

# Findings the summary and the table artifact list; the rest are queried (audit_findings).
SHOWN_FINDINGS = 100


def count_by_kind(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.kind for f in findings)
    return {kind: counts.get(kind, 0) for kind in KINDS}


def add_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    return {kind: sum(c.get(kind, 0) for c in counts) for kind in KINDS}


def where_the_rest_are(run_id: int, after_id: int) -> str:
    return (
        f"GET /api/audits/{run_id}/findings?after={after_id}&limit=1000 (admin), or SQL: "
        f"SELECT id, kind, key, detail FROM audit_findings WHERE run_id = {run_id} "
        f"AND id > {after_id} ORDER BY id"
    )


def markdown_summary(
    checked: int,
    bytes_hashed: int,
    counts: Mapping[str, int],
    shown: Sequence[tuple[int, Finding]] = (),
    run_id: int | None = None,
) -> str:
    """`shown`: the run's first findings (id, finding), at most SHOWN_FINDINGS of them."""
    total = sum(counts.values())
    verdict = "clean" if not total else f"{total} finding(s)"
    lines = [
        f"# Masters integrity audit: {verdict}",
        "",
        f"- objects checked: {checked}",
        f"- bytes re-hashed: {bytes_hashed}",
        "",
        "| kind | count |",
        "| --- | --- |",
        *(f"| {kind} | {counts.get(kind, 0)} |" for kind in KINDS),
    ]
    if shown:
        lines += ["", "| kind | key | detail |", "| --- | --- | --- |"]
        lines += [f"| {f.kind} | `{f.key}` | {f.detail} |" for _, f in shown]
    if total > len(shown) and run_id is not None:
        after = shown[-1][0] if shown else 0
        rest = total - len(shown)
        lines += [
            "",
            f"{rest} more in the audit_findings table: {where_the_rest_are(run_id, after)}",
        ]
    return "\n".join(lines)


def findings_table(
    shown: Sequence[tuple[int, Finding]], total: int, run_id: int
) -> list[dict[str, Any]]:
    """The table artifact's rows: the first findings, then one row saying where the rest are."""
    rows: list[dict[str, Any]] = [
        {"id": i, "kind": f.kind, "key": f.key, "sha256": f.sha256 or "", "detail": f.detail}
        for i, f in shown
    ]
    if total > len(shown):
        after = shown[-1][0] if shown else 0
        rows.append(
            {
                "id": "…",
                "kind": f"{total - len(shown)} more",
                "key": "",
                "sha256": "",
                "detail": where_the_rest_are(run_id, after),
            }
        )
    return rows or [{"id": "", "kind": "none", "key": "", "sha256": "", "detail": "no findings"}]
