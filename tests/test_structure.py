"""The rooms' rules, as a newcomer can check them (`make structure` runs the same contracts):
import-linter's contracts in pyproject.toml, and the previews row's one writer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("dailies", "api", "tasks", "flows", "ops")
ROW_SQL = ROOT / "dailies" / "db" / "preview_writes.py"
LIFECYCLE = ROOT / "dailies" / "previews" / "lifecycle.py"


def test_the_import_contracts_hold() -> None:
    """The API imports nothing from tasks/, media/, flows/ or ops/; the library imports no
    room built on it; ops > api | flows > tasks > dailies; only the lifecycle imports the
    previews row's writes."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 kept, 0 broken" in done.stdout, done.stdout[-2000:]


def _writes_the_previews_row(tree: ast.AST) -> list[int]:
    """Lines that build a Preview row or an UPDATE/INSERT of the previews table."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        args = [a.id for a in node.args if isinstance(a, ast.Name)]
        if name == "Preview" or (
            name in {"update", "insert", "upsert_insert"} and "Preview" in args
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_lifecycle_writes_the_previews_row() -> None:
    """No module builds a previews row or its UPDATE/INSERT but db/preview_writes.py, which
    only the lifecycle imports (the contract above); the lifecycle changes rows it locked."""
    writers = {}
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            found = _writes_the_previews_row(ast.parse(path.read_text(), str(path)))
            if found:
                writers[str(path.relative_to(ROOT))] = found
    assert set(writers) == {str(ROW_SQL.relative_to(ROOT))}, writers
    assert "preview_writes" in LIFECYCLE.read_text()
