"""The table of faults, recovery times and leftovers, written into bench/RESULTS.md."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

HEADING = "## Fault injection (tests/faults)"


@dataclass(frozen=True)
class FaultRow:
    case: str
    fault: str
    recovery_s: float
    outcome: str
    left_behind: tuple[str, ...]


@dataclass
class FaultTable:
    rows: list[FaultRow] = field(default_factory=list)

    def add(
        self, case: str, fault: str, recovery_s: float, outcome: str, left_behind: list[str]
    ) -> None:
        self.rows.append(FaultRow(case, fault, recovery_s, outcome, tuple(left_behind)))

    def render(self, kept: list[str] | None = None) -> str:
        lines = [
            HEADING,
            "",
            "Real processes, real kills (`uv run pytest tests/faults`, written with",
            "`DAILIES_WRITE_FAULT_TABLE=1`). Recovery: from the fault to the end state (the master",
            "promoted once; the preview `ready` with every object its multivariant playlist",
            "names). Left behind: scratch folders, ffmpeg processes, incomplete multipart",
            "uploads, extra object versions or rows.",
            "",
            "| case | fault | recovery | end state | left behind |",
            "| --- | --- | --- | --- | --- |",
        ]
        rows = list(kept or [])
        for row in self.rows:
            left = "; ".join(row.left_behind) or "nothing"
            rows.append(
                f"| {row.case} | {row.fault} | {row.recovery_s:.1f} s | {row.outcome} | {left} |"
            )
        return "\n".join(lines + sorted(rows)) + "\n"

    def write(self, path: Path) -> None:
        """Replace this section of the file (or append it), leaving the rest as it is. Rows
        of cases this session did not run (`pytest -k`) are kept from the file."""
        text = path.read_text() if path.exists() else ""
        pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
        found = pattern.search(text)
        ran = {row.case for row in self.rows}
        kept = [
            line for line in (found.group(0).splitlines() if found else [])
            if line.startswith("| ") and line.split(" | ")[0][2:] not in ran | {"case", "---"}
        ]  # fmt: skip
        section = self.render(kept)
        if found:
            text = pattern.sub(lambda _: section + "\n", text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n" + section
        path.write_text(text.rstrip("\n") + "\n")
