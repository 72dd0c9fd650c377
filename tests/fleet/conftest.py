"""The fleet: the production shape (ops/fleet.py) on network-namespace hosts, once per module.
`make fleet` runs these tests (root only: they make namespaces, a bridge and veths, and
remove them). Each scenario prints one `FLEET …` line with what it measured."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.fleet import LINES, Fleet, bring_up, report


@pytest.fixture(scope="module")
def fleet(request: pytest.FixtureRequest) -> Iterator[Fleet]:
    if os.geteuid() != 0:
        pytest.fail("the fleet tests make network namespaces: run them as root (make fleet)")
    # Not under /tmp: every host mounts a /tmp of its own, and these folders are read by
    # the test from outside the hosts.
    root = Path(tempfile.mkdtemp(prefix="dailies-fleet-", dir="/var/tmp"))
    root.chmod(0o755)  # the db host's Postgres runs as the postgres user
    made = bring_up(root)
    try:
        yield made
    finally:
        made.close()
        if request.session.testsfailed or os.environ.get("DAILIES_FLEET_KEEP"):
            report(f"logs kept: {root}/<host>/logs")
        else:
            shutil.rmtree(root, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in LINES:
        terminalreporter.write_line(line)
