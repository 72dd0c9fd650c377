"""The previews row against a crashed run's late hook (real Postgres): a worker runs a
killed flow's on_crashed hook once it has loaded the flow, seconds later, by which time the
API may have judged that run dead and launched the next attempt. The hook must fail only
the attempt it belongs to."""

from __future__ import annotations

from typing import Any

import pytest

from dailies.clients import session_scope
from dailies.db import previews
from dailies.db.models import Preview
from tests.api.conftest import insert_master

LADDER = "test-ladder"


def _row(stack: Any, sha: str) -> tuple[str, str | None, int]:
    with session_scope(stack) as session:
        row = session.get(Preview, sha)
        assert row is not None
        return row.status, row.flow_run_id, row.attempts


def _late_hook(stack: Any, sha: str, run_id: str) -> bool:
    with session_scope(stack) as session:
        return previews.mark_failed(session, sha, LADDER, "the preview worker stopped", run_id)


def _launch(stack: Any, sha: str, run_id: str | None) -> int:
    """The API's two steps: the attempt row, then (unless None) its run attached."""
    with session_scope(stack) as session:
        attempt = previews.queue_attempt(session, sha)
    if run_id is not None:
        with session_scope(stack) as session:
            previews.attach_run(session, sha, attempt, run_id)
    return attempt


@pytest.fixture
def sha(stack: Any) -> str:
    return insert_master(stack)


def test_the_hook_of_the_rows_own_run_fails_it(stack: Any, sha: str) -> None:
    _launch(stack, sha, "run-1")
    assert _late_hook(stack, sha, "run-1") is True
    assert _row(stack, sha)[:2] == ("failed", "run-1")


def test_a_late_hook_leaves_the_next_attempts_run_alone(stack: Any, sha: str) -> None:
    _launch(stack, sha, "run-1")
    _launch(stack, sha, "run-2")  # the API judged run-1 dead and launched again
    assert _late_hook(stack, sha, "run-1") is False
    assert _row(stack, sha) == ("queued", "run-2", 2)


def test_a_late_hook_between_the_attempt_row_and_its_run_leaves_the_launch_alone(
    stack: Any, sha: str
) -> None:
    _launch(stack, sha, "run-1")
    attempt = _launch(stack, sha, None)  # the next attempt's row; its run is being created
    assert _late_hook(stack, sha, "run-1") is False
    with session_scope(stack) as session:
        previews.attach_run(session, sha, attempt, "run-2")
    assert _row(stack, sha) == ("queued", "run-2", 2)  # attached: one run for the attempt
