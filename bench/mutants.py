"""`make mutants`: mutation testing of the pure cores with mutmut, scored per module.

The modules and the tests come from `[tool.mutmut]` in pyproject.toml. Only fast pure tests
run: before anything is mutated, pytest's setup plan must show none of the service fixtures
(S3, Postgres, Redis, Prefect). Killed, timed-out and surviving mutants are counted apart, and
the score is given both with timeouts counted as kills and without. Every mutant must be
killed, time out, or be listed as equivalent with its reason in bench/mutants_equivalent.toml:
anything else fails the run, and so does a score without timeouts below MIN_SCORE.

    uv run python bench/mutants.py              # every mutant; writes bench/RESULTS.md
    uv run python bench/mutants.py --report     # only rewrite the report from mutants/
    uv run python bench/mutants.py --sample 120 [--seed N]   # CI: N random mutants, same gates
    uv run python bench/mutants.py --sample 9999 --only 'dailies.timecode.*'   # one module

The sample draws from every mutant of the current code with a printed seed (MUTANTS_SEED
replays one); it writes nothing to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from results import write_section  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
# Floor for the score without timeouts (a timeout is a mutant that hangs the tests: caught,
# but by the clock rather than by an assert). The full run on 2026-12-06 scored 99.7 %.
MIN_SCORE = 97.0
EQUIVALENT = ROOT / "bench" / "mutants_equivalent.toml"
RUN_INFO = ROOT / "mutants" / "full-run.json"  # [seconds, load average] for --report
SERVICE_FIXTURES = {"s3_server", "postgres_db", "redis_db", "prefect_server", "stack", "rgw_server"}
# mutmut's status names (mutmut.stats.status_by_exit_code) in the report's columns. A mutant
# ended by a signal ("segfault": SIGKILL after the CPU limit, or a crash) counts as a timeout.
COLUMN = {
    "killed": "killed",
    "caught by type check": "killed",
    "timeout": "timeout",
    "segfault": "timeout",
    "survived": "survived",
    "suspicious": "survived",
    "no tests": "no tests",
    "skipped": "skipped",
}
UNEXPLAINED = ("survived", "no tests")
GENERATE = """
import os
import mutmut.__main__ as mutmut_main
from mutmut.mutation.trampoline import set_mutant_under_test
from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir
set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir()
copy_also_copy_files()
mutmut_main.create_mutants(1)
"""


@dataclass
class Module:
    path: str
    counts: Counter[str] = field(default_factory=Counter)  # by COLUMN value
    unexplained: list[tuple[str, str, str]] = field(default_factory=list)  # name, status, diff
    timeouts: list[str] = field(default_factory=list)
    equivalent: list[tuple[str, str, str]] = field(default_factory=list)  # name, diff, reason

    @property
    def scored(self) -> int:
        # Equivalent mutants are kept out of `counts`, so they are out of this already.
        return sum(self.counts.values()) - self.counts["skipped"]


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


def run_mutmut(children: int, names: list[str]) -> None:
    """mutmut's cache keys on the mutated functions, not on the tests, so a mutant that
    survived before would not be tried against a new test: callers start from scratch."""
    subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *names],
        cwd=ROOT, check=True,
    )  # fmt: skip


def all_mutant_names(config: dict) -> list[str]:  # type: ignore[type-arg]
    """Every mutant of the current code, without running any: mutmut's own generation step."""
    subprocess.run([sys.executable, "-c", GENERATE], cwd=ROOT, check=True, capture_output=True)
    return [name for _, codes in _metas(config) for name in codes]


def _metas(config: dict) -> list[tuple[str, dict[str, int | None]]]:  # type: ignore[type-arg]
    found = []
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        path = str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]
        if any(fnmatch(path, pattern) for pattern in config["only_mutate"]):
            found.append((path, json.loads(meta.read_text())["exit_code_by_key"]))
    return found


def changed_lines(diff: str) -> str:
    return "\n".join(
        line
        for line in diff.splitlines()[2:]
        if line[:1] in "+-" and line[:3] not in {"+++", "---"}
    )


def collect(config: dict, only: set[str] | None = None) -> list[Module]:  # type: ignore[type-arg]
    """Each module's verdicts; `only` restricts them to a sample's mutants."""
    # mutmut's own status names and diffs (its `results` and `show` commands use these).
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    # By function and mutated line, not by number: an edit elsewhere in a function renumbers
    # its mutants. If the line changed, the entry no longer applies and the mutant shows.
    reasons: dict[str, list[tuple[str, str]]] = {}
    for entry in tomllib.loads(EQUIVALENT.read_text()).get("equivalent", []):
        function = entry["name"].rpartition("__mutmut_")[0]
        reasons.setdefault(function, []).append((entry["mutated"].strip(), entry["reason"]))
    modules = []
    os.chdir(ROOT)
    for path, exit_codes in _metas(config):
        module = Module(path)
        for name, code in sorted(exit_codes.items(), key=lambda kv: _natural(kv[0])):
            if only is not None and name not in only:
                continue
            status = status_by_exit_code[code]
            column = COLUMN.get(status, "survived")  # "not checked" and the like are unexplained
            if column == "timeout":
                module.timeouts.append(name)
            if column not in UNEXPLAINED:
                module.counts[column] += 1
                continue
            diff = changed_lines(get_diff_for_mutant(name, path=path))
            added = {line[1:].strip() for line in diff.splitlines() if line.startswith("+")}
            function = name.rpartition("__mutmut_")[0]
            reason = next((r for m, r in reasons.get(function, []) if m in added), None)
            if reason is not None:
                module.equivalent.append((name, diff, reason))
            else:
                module.counts[column] += 1
                module.unexplained.append((name, status, diff))
        if module.scored or module.equivalent:
            modules.append(module)
    return modules


def _natural(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


@dataclass(frozen=True)
class Scores:
    with_timeouts: float  # timeouts counted as kills
    without_timeouts: float  # only an assert's kill counts

    @classmethod
    def of(cls, counts: Counter[str], scored: int) -> Scores:
        return cls(
            percent(counts["killed"] + counts["timeout"], scored),
            percent(counts["killed"], scored),
        )


def totals(modules: list[Module]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    for m in modules:
        counts.update(m.counts)
    return counts, sum(m.scored for m in modules)


def report(modules: list[Module], config: dict, run: list) -> str:  # type: ignore[type-arg]
    """`run` is [wall seconds, CPU seconds of every process, load average at the start]."""
    took_s, cpu_s, load = run
    rows = [
        "| module | mutants | killed | timed out | survived | no tests | equivalent "
        "| score | score without timeouts |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in [*modules, None]:
        counts, scored = totals(modules) if m is None else (m.counts, m.scored)
        equivalent = sum(len(x.equivalent) for x in modules) if m is None else len(m.equivalent)
        s = Scores.of(counts, scored)
        name, bold = ("**all**", "**") if m is None else (f"`{m.path}`", "")
        rows.append(
            f"| {name} | {sum(counts.values()) + equivalent} | {counts['killed']} "
            f"| {counts['timeout']} | {counts['survived']} | {counts['no tests']} "
            f"| {equivalent} | {bold}{s.with_timeouts:.1f} %{bold} "
            f"| {bold}{s.without_timeouts:.1f} %{bold} |"
        )
    tests = " ".join(f"`{t}`" for t in config["pytest_add_cli_args_test_selection"])
    body = [
        f"`make mutants` (mutmut, every mutant, 2 at a time) took **{took_s / 60:.1f} min** "
        f"on {os.cpu_count()} cores shared with other work (load average at start {load}); "
        f"its processes used {cpu_s / 60:.1f} CPU-minutes. Score = killed / (mutants − "
        "equivalent), with timeouts (a mutant that hangs the tests, stopped by mutmut's time "
        "limit) counted as kills and, in the last column, not. The run fails if any mutant "
        "survives or reaches no test without being listed as equivalent, or if the score "
        f"without timeouts is below {MIN_SCORE:.0f} %. Tests run: {tests} (pure, no services). "
        "CI runs `make mutants-sample`: a random sample with the same gates.",
        "",
        *rows,
        "",
        "### Surviving mutants",
        "",
    ]
    unexplained = [(m.path, u) for m in modules for u in m.unexplained]
    if not unexplained:
        body.append("None: every mutant is killed, timed out or listed as equivalent below.")
    for path in dict.fromkeys(p for p, _ in unexplained):
        body += [f"`{path}`:", "", "```diff"]
        for p, (name, status, diff) in unexplained:
            if p == path:
                body += [f"# {name.rpartition('.')[2]} ({status})", diff]
        body += ["```", ""]
    timeouts = [name for m in modules for name in m.timeouts]
    body += ["", "### Timed out", ""]
    body.append(", ".join(f"`{n}`" for n in timeouts) if timeouts else "None.")
    body += [
        "",
        "### Equivalent mutants",
        "",
        "Behave exactly like the original for every input the code can get (listed, with the "
        "reason, in `bench/mutants_equivalent.toml`):",
        "",
    ]
    for m in modules:
        for name, diff, reason in m.equivalent:
            mutated = next((ln for ln in diff.splitlines() if ln.startswith("+")), "")
            body.append(f"- `{name}`: `{mutated[1:].strip()}`: {reason}")
    return "\n".join(body)


def verdict(modules: list[Module], what: str) -> int:
    """Print the gates' outcome; 1 if a gate failed."""
    counts, scored = totals(modules)
    s = Scores.of(counts, scored)
    print(
        f"{what}: {scored} scored, {counts['killed']} killed, {counts['timeout']} timed out, "
        f"{counts['survived']} survived, {counts['no tests']} reached by no test; score "
        f"{s.with_timeouts:.1f} % ({s.without_timeouts:.1f} % without timeouts, "
        f"floor {MIN_SCORE:.0f} %)"
    )
    failed = 0
    for m in modules:
        for name, status, diff in m.unexplained:
            print(f"not killed and not listed as equivalent: {name} ({status})\n{diff}")
            failed = 1
    if s.without_timeouts < MIN_SCORE:
        print(f"the score without timeouts is below the floor of {MIN_SCORE:.0f} %")
        failed = 1
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only report the last full run")
    parser.add_argument("--sample", type=int, metavar="N", help="run N random mutants only")
    parser.add_argument(
        "--only", metavar="GLOB", default="*", help="sample only mutants named so (fnmatch)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=int(os.environ.get("MUTANTS_SEED") or random.SystemRandom().randrange(10**6)),
        help="the sample's seed (default: MUTANTS_SEED, else a new one, printed)",
    )
    parser.add_argument(
        "--max-children",
        type=int,
        default=int(os.environ.get("MUTANTS_CHILDREN", "2")),
        help="parallel mutant runs (default 2, MUTANTS_CHILDREN)",
    )
    args = parser.parse_args()
    config = mutmut_config()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    started = time.monotonic()
    if args.report:
        modules = collect(config)
        if not modules or not RUN_INFO.exists():
            sys.exit("no full mutmut run under mutants/: run without --report first")
        run = json.loads(RUN_INFO.read_text())
        write_section("mutation testing (make mutants)", report(modules, config, run))
        sys.exit(verdict(modules, "last run"))
    check_tests_need_no_services(config["pytest_add_cli_args_test_selection"])
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    if args.sample is None:
        run_mutmut(args.max_children, [])
        modules = collect(config)
        took = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = [took, usage.ru_utime + usage.ru_stime, load]
        RUN_INFO.write_text(json.dumps(run))
        write_section("mutation testing (make mutants)", report(modules, config, run))
        print(f"{took / 60:.1f} min ({run[1] / 60:.1f} CPU-min); written to bench/RESULTS.md")
        sys.exit(verdict(modules, "all mutants"))
    names = [n for n in all_mutant_names(config) if fnmatch(n, args.only)]
    sample = sorted(random.Random(args.seed).sample(names, min(args.sample, len(names))))
    print(
        f"mutants sample: {len(sample)} of {len(names)} mutants, seed {args.seed} "
        f"(replay: MUTANTS_SEED={args.seed} make mutants-sample)",
        flush=True,
    )
    run_mutmut(args.max_children, sample)
    modules = collect(config, only=set(sample))
    print(f"{(time.monotonic() - started) / 60:.1f} min (load average at start {load})")
    sys.exit(verdict(modules, f"sample of {len(sample)}, seed {args.seed}"))


if __name__ == "__main__":
    main()
