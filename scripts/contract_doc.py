"""Writes the generated parts of docs/CONTRACT.md: the settings table from the Settings class
(names, defaults and the comments above each field) and the HTTP routes from the API's
OpenAPI document, so the contract cannot drift from the code; and the README's fleet table
from ops/fleet.py, the table tests/fleet runs.

    uv run python scripts/contract_doc.py          # rewrite the generated parts
    uv run python scripts/contract_doc.py --check  # exit 1 if they are stale (the tests run this)
    ... --doc PATH                                 # another copy of the page

Only the text between `<!-- generated: NAME -->` and `<!-- end generated -->` is replaced;
the rest of the page is written by hand.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "CONTRACT.md"
README = ROOT / "README.md"  # its "Scaling out" prints ops/fleet.py
BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n).*?(<!-- end generated -->)", re.DOTALL)


def field_groups(cls: type) -> list[tuple[str, list[str]]]:
    """The class body's fields in groups, each with the comment that describes it: a comment
    starts a group, and so does a blank line (then with no comment of its own)."""
    source, _ = inspect.getsourcelines(cls)
    body = ast.parse("".join(source)).body[0]
    assert isinstance(body, ast.ClassDef)
    groups: list[tuple[str, list[str]]] = []
    previous_end = 0
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        line = node.lineno - 2  # the line above, 0-based
        while line >= 0 and source[line].strip().startswith("#"):
            above.insert(0, source[line].strip().lstrip("#").strip())
            line -= 1
        blank_between = any(not s.strip() for s in source[previous_end : node.lineno - 1])
        if above or blank_between or not groups:
            groups.append((" ".join(above), []))
        groups[-1][1].append(node.target.id)
        previous_end = node.end_lineno or node.lineno
    return groups


def env_names(name: str, field: FieldInfo, prefix: str) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"{prefix}{name}".upper()]


def render_default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(computed)"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value) if len(value) <= 3 else f"{len(value)} values"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


def settings_table() -> str:
    from dailies.settings import Settings

    prefix = str(Settings.model_config.get("env_prefix", ""))
    rows = ["| variable (default) | meaning |", "| --- | --- |"]
    for comment, names in field_groups(Settings):
        variables = "<br>".join(
            " / ".join(f"`{n}`" for n in env_names(name, Settings.model_fields[name], prefix))
            + f" ({render_default(Settings.model_fields[name])})"
            for name in names
        )
        meaning = comment.replace("|", "\\|")
        rows.append(f"| {variables} | {meaning} |")
    return "\n".join(rows) + "\n"


def _summary(operation: dict[str, Any]) -> str:
    text = operation.get("description") or operation.get("summary") or ""
    return " ".join(text.strip().split("\n\n")[0].split()).replace("|", "\\|")


def routes_table() -> str:
    from api.app import create_app
    from dailies.settings import Settings

    spec = create_app(Settings()).openapi()
    rows = ["| route | what | answers |", "| --- | --- | --- |"]
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            answers = ", ".join(sorted(operation.get("responses", {})))
            rows.append(f"| `{method.upper()} {path}` | {_summary(operation)} | {answers} |")
    return "\n".join(rows) + "\n"


def deployments_table() -> str:
    import yaml

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    rows = ["| deployment | entrypoint | work pool | schedule |", "| --- | --- | --- | --- |"]
    for deployment in spec["deployments"]:
        schedules = deployment.get("schedules") or []
        when = (
            ", ".join(f"`{s.get('cron') or s.get('interval')}`" for s in schedules) or "on demand"
        )
        pool = deployment.get("work_pool", {}).get("name", "")
        rows.append(
            f"| `{deployment['name']}` | `{deployment['entrypoint']}` | `{pool}` | {when} |"
        )
    return "\n".join(rows) + "\n"


def cli_table() -> str:
    """The installed `dailies` command (pyproject's console script, wherever it lives)."""
    from importlib.metadata import entry_points

    import typer.main

    (script,) = entry_points(group="console_scripts", name="dailies")
    group = typer.main.get_command(script.load())
    rows = ["| command | what |", "| --- | --- |"]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        params = " ".join(
            f"[{p.opts[0]}]" if p.opts and p.opts[0].startswith("-") else p.name.upper()
            for p in command.params
            if p.name != "help"
        )
        usage = f"dailies {name} {params}".strip()
        what = " ".join((command.help or "").split("\n\n")[0].split()).replace("|", "\\|")
        rows.append(f"| `{usage}` | {what} |")
    return "\n".join(rows) + "\n"


def fleet_table() -> str:
    from ops.fleet import describe

    return describe()


GENERATORS = {
    "settings": settings_table,
    "routes": routes_table,
    "deployments": deployments_table,
    "cli": cli_table,
    "fleet": fleet_table,
}


def regenerate(text: str) -> str:
    def fill(match: re.Match[str]) -> str:
        return f"{match.group(1)}{GENERATORS[match.group(2)]()}{match.group(3)}"

    return BLOCK.sub(fill, text)


def main(argv: list[str]) -> int:
    docs = [Path(argv[argv.index("--doc") + 1])] if "--doc" in argv else [DOC, README]
    stale = 0
    for doc in docs:
        current = doc.read_text()
        fresh = regenerate(current)
        if "--check" in argv:
            if fresh != current:
                print(f"{doc} is stale: run `uv run python scripts/contract_doc.py`")
                stale = 1
            continue
        doc.write_text(fresh)
    return stale


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
