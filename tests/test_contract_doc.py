"""docs/CONTRACT.md is the repository's own contract: its generated tables match the code, and
nothing in the repository points at a contract outside it."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "CONTRACT.md"


def _generator() -> ModuleType:
    """scripts/contract_doc.py, loaded in this process (its own process would import
    Prefect and the API again: seconds per call)."""
    spec = importlib.util.spec_from_file_location("contract_doc", ROOT / "scripts/contract_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_tables_match_the_code() -> None:
    assert _generator().main(["--check"]) == 0, "run `uv run python scripts/contract_doc.py`"


def test_a_stale_table_is_caught(tmp_path: Path) -> None:
    """The check compares against the code: a setting missing from the page fails it."""
    original = PAGE.read_text()
    line = next(ln for ln in original.splitlines() if "DAILIES_AUDIT_BATCH_SIZE" in ln)
    stale = tmp_path / "CONTRACT.md"
    stale.write_text(original.replace(line + "\n", ""))
    assert _generator().main(["--check", "--doc", str(stale)]) == 1


def test_every_setting_route_and_deployment_is_on_the_page() -> None:
    from api.app import create_app
    from dailies.settings import Settings

    page = PAGE.read_text()
    for name, field in Settings.model_fields.items():
        assert f"DAILIES_{name.upper()}" in page or field.validation_alias, name
    for path in create_app(Settings()).openapi()["paths"]:
        assert f" {path}`" in page, path
    for deployment in ("promote-master", "preview-gpu", "preview-cpu", "integrity-audit"):
        assert f"`{deployment}`" in page


def test_nothing_points_at_a_contract_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = [
        path
        for path in tracked
        if path.endswith((".py", ".md", ".yaml", ".toml", ".sh"))
        and path != "tests/test_contract_doc.py"
        and "shared/CONTRACT" in (ROOT / path).read_text(errors="replace")
    ]
    assert not offenders, offenders
