"""`make mutants`: mutation testing of the pure cores with mutmut, scored per module.

The modules and the tests come from `[tool.mutmut]` in pyproject.toml. Only fast pure tests
run: before anything is mutated, pytest's setup plan must show none of the service fixtures
(S3, Postgres, Redis, Prefect). The score and every surviving mutant go to bench/RESULTS.md;
mutants shown to be equivalent (bench/mutants_equivalent.toml, each with its reason) leave
the denominator. Exits 1 below MIN_SCORE, so a drop is noticed.

    uv run python bench/mutants.py            # mutate and test (about 10 min on 1 core)
    uv run python bench/mutants.py --report   # only rewrite the report from mutants/
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from results import write_section  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
MIN_SCORE = 85.0
EQUIVALENT = ROOT / "bench" / "mutants_equivalent.toml"
SERVICE_FIXTURES = {"s3_server", "postgres_db", "redis_db", "prefect_server", "stack", "rgw_server"}
KILLED = {"killed", "timeout", "caught by type check"}


@dataclass
class Module:
    path: str
    statuses: Counter[str] = field(default_factory=Counter)
    survivors: list[tuple[str, str, str]] = field(default_factory=list)  # name, status, diff
    equivalent: list[tuple[str, str, str]] = field(default_factory=list)  # name, diff, reason

    @property
    def killed(self) -> int:
        return sum(self.statuses[s] for s in KILLED)

    @property
    def scored(self) -> int:
        # Equivalent mutants are kept out of `statuses`, so they are out of this already.
        return sum(self.statuses.values()) - self.statuses["skipped"]


def mutmut_config() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]


def check_tests_need_no_services(selection: list[str]) -> None:
    """The mutation run forks pytest thousands of times: no test in it may start a service."""
    plan = subprocess.run(
        [sys.executable, "-m", "pytest", "--setup-plan", "-q", "-p", "no:randomly", *selection],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if plan.returncode != 0:
        sys.exit(f"pytest --setup-plan failed:\n{plan.stdout[-3000:]}{plan.stderr[-3000:]}")
    used = set(re.findall(r"SETUP\s+\w\s+(\w+)", plan.stdout)) & SERVICE_FIXTURES
    if used:
        sys.exit(f"the mutation tests must need no services, but they use {sorted(used)}")


def run_mutmut(children: int) -> None:
    # From scratch: mutmut's cache keys on the mutated functions, not on the tests, so a
    # mutant that survived before would not be tried against a new test.
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(children)],
        cwd=ROOT, check=True,
    )  # fmt: skip


def changed_lines(diff: str) -> str:
    return "\n".join(
        line
        for line in diff.splitlines()[2:]
        if line[:1] in "+-" and line[:3] not in {"+++", "---"}
    )


def collect(config: dict) -> list[Module]:  # type: ignore[type-arg]
    # mutmut's own status names and diffs (its `results` and `show` commands use these).
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    equivalent = tomllib.loads(EQUIVALENT.read_text()).get("equivalent", [])
    reasons = {e["name"]: (e["mutated"], e["reason"]) for e in equivalent}
    modules = []
    os.chdir(ROOT)
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        path = str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]
        if not any(fnmatch(path, pattern) for pattern in config["only_mutate"]):
            continue
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not exit_codes:
            continue
        module = Module(path)
        for name, code in sorted(exit_codes.items(), key=lambda kv: _natural(kv[0])):
            status = status_by_exit_code[code]
            if status in KILLED or status == "skipped":
                module.statuses[status] += 1
                continue
            diff = changed_lines(get_diff_for_mutant(name, path=path))
            mutated, reason = reasons.get(name, (None, None))
            # An entry names one mutated line; if the code moved on, the entry no longer applies.
            if mutated is not None and any(
                line[1:].strip() == mutated.strip() for line in diff.splitlines()
            ):
                module.equivalent.append((name, diff, reason))
            else:
                module.statuses[status] += 1
                module.survivors.append((name, status, diff))
        modules.append(module)
    return modules


def _natural(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def percent(killed: int, scored: int) -> float:
    return 100.0 * killed / scored if scored else 100.0


def report(modules: list[Module], config: dict) -> tuple[str, float]:  # type: ignore[type-arg]
    total_killed = sum(m.killed for m in modules)
    total_scored = sum(m.scored for m in modules)
    score = percent(total_killed, total_scored)
    rows = [
        "| module | mutants | killed | survived | no tests | equivalent | score |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in modules:
        rows.append(
            f"| `{m.path}` | {sum(m.statuses.values()) + len(m.equivalent)} | {m.killed} "
            f"| {m.statuses['survived']} | {m.statuses['no tests']} | {len(m.equivalent)} "
            f"| {percent(m.killed, m.scored):.1f} % |"
        )
    rows.append(
        f"| **all** | {sum(sum(m.statuses.values()) + len(m.equivalent) for m in modules)} "
        f"| {total_killed} | {sum(m.statuses['survived'] for m in modules)} "
        f"| {sum(m.statuses['no tests'] for m in modules)} "
        f"| {sum(len(m.equivalent) for m in modules)} | **{score:.1f} %** |"
    )
    tests = " ".join(f"`{t}`" for t in config["pytest_add_cli_args_test_selection"])
    body = [
        f"`make mutants` (mutmut, `--max-children 1`): score = killed / (mutants − equivalent); "
        f"the floor is {MIN_SCORE:.0f} %. Tests run: {tests} (pure, no services). A timeout "
        '(a mutant that loops) counts as killed; "no tests" means no selected test reaches '
        "the mutated function.",
        "",
        *rows,
        "",
        "### Surviving mutants",
        "",
    ]
    survivors = [(m.path, s) for m in modules for s in m.survivors]
    if not survivors:
        body.append("None.")
    for path in dict.fromkeys(p for p, _ in survivors):
        body += [f"`{path}`:", "", "```diff"]
        for p, (name, status, diff) in survivors:
            if p == path:
                body += [f"# {name.rpartition('.')[2]} ({status})", diff]
        body += ["```", ""]
    body += [
        "### Equivalent mutants",
        "",
        "Behave exactly like the original for every input the code can get (listed in "
        "`bench/mutants_equivalent.toml`):",
        "",
    ]
    for m in modules:
        for name, diff, reason in m.equivalent:
            mutated = next((ln for ln in diff.splitlines() if ln.startswith("+")), "")
            body.append(f"- `{name}`: `{mutated[1:].strip()}`: {reason}")
    return "\n".join(body), score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only report the last run")
    parser.add_argument(
        "--max-children",
        type=int,
        default=int(os.environ.get("MUTANTS_CHILDREN", "1")),
        help="parallel mutant runs (default 1: the box is shared)",
    )
    args = parser.parse_args()
    config = mutmut_config()
    if not args.report:
        check_tests_need_no_services(config["pytest_add_cli_args_test_selection"])
        run_mutmut(args.max_children)
    modules = collect(config)
    if not modules:
        sys.exit("no mutmut results under mutants/: run without --report first")
    body, score = report(modules, config)
    write_section("mutation testing (make mutants)", body)
    print(f"mutation score {score:.1f} % (floor {MIN_SCORE:.0f} %), written to bench/RESULTS.md")
    if score < MIN_SCORE:
        sys.exit(1)


if __name__ == "__main__":
    main()
