"""The previews row's lifecycle on real Postgres (dailies/previews/lifecycle.py, called as the
API, the flow and the sweep call it): a worker runs a killed flow's on_crashed hook once it has
loaded the flow, seconds later, by which time the liveness sweep may have judged that run dead
and launched the next attempt. The hook must fail only the attempt it belongs to."""

from __future__ import annotations

from typing import Any

import pytest

from dailies.clients import session_scope
from dailies.db.models import Preview
from dailies.previews import lifecycle
from tests.api.conftest import insert_master

LADDER = "test-ladder"


def _row(stack: Any, sha: str) -> tuple[str, str | None, int]:
    with session_scope(stack) as session:
        row = session.get(Preview, sha)
        assert row is not None
        return row.status, row.flow_run_id, row.attempts


def _late_hook(stack: Any, sha: str, run_id: str) -> bool:
    with session_scope(stack) as session:
        return lifecycle.fail(session, sha, "the preview worker stopped", run_id, LADDER)


def _launch(stack: Any, sha: str, run_id: str | None) -> int:
    """The API's two steps: the attempt row, then (unless None) its run attached."""
    with session_scope(stack) as session:
        attempt = lifecycle.queue(session, sha).attempt
    if run_id is not None:
        with session_scope(stack) as session:
            lifecycle.attach_run(session, sha, attempt, run_id)
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
        lifecycle.attach_run(session, sha, attempt, "run-2")
    assert _row(stack, sha) == ("queued", "run-2", 2)  # attached: one run for the attempt


def test_a_run_claims_its_row_without_a_new_attempt_and_never_a_building_one(
    stack: Any, sha: str
) -> None:
    """The flow's side of `queue`: a launched attempt's run takes the row (the attempt number
    is the API's), and a run started beside a build leaves the build alone."""
    attempt = _launch(stack, sha, None)
    with session_scope(stack) as session:
        queued = lifecycle.queue(session, sha, "run-1", LADDER)
    assert (queued.status, queued.attempt) == ("queued", attempt) and attempt == 1
    with session_scope(stack) as session:
        lifecycle.start_building(session, sha, LADDER, "libx264", "run-1")
    with session_scope(stack) as session:
        assert lifecycle.queue(session, sha, "run-2", LADDER).status == "building"
    assert _row(stack, sha) == ("building", "run-1", 1)


def test_a_launch_numbers_attempts_but_a_launcher_that_died_keeps_its_number(
    stack: Any, sha: str
) -> None:
    assert _launch(stack, sha, "run-1") == 1
    assert _launch(stack, sha, None) == 2  # its launcher died before attaching a run
    assert _launch(stack, sha, "run-2") == 2  # the same attempt: its idempotency key
    assert _launch(stack, sha, "run-3") == 3


def test_the_first_reason_a_run_failed_for_stands(stack: Any, sha: str) -> None:
    """The flow's hook says more than the sweep can: a run failed twice keeps the first."""
    _launch(stack, sha, "run-1")
    assert _late_hook(stack, sha, "run-1") is True
    with session_scope(stack) as session:
        assert lifecycle.fail(session, sha, "flow run run-1 crashed", "run-1") is False
        row = session.get(Preview, sha)
        assert row is not None and row.error == "the preview worker stopped"


def test_a_ready_preview_is_never_failed_by_a_late_run(stack: Any, sha: str) -> None:
    _launch(stack, sha, "run-1")
    with session_scope(stack) as session:
        row = session.get(Preview, sha)
        assert row is not None
        row.status, row.ladder_version = "ready", LADDER
    assert _late_hook(stack, sha, "run-0") is False
    with session_scope(stack) as session:  # the sweep knows no ladder version: any ready stands
        assert lifecycle.fail(session, sha, "gone", "run-1") is False
    assert _row(stack, sha)[0] == "ready"


def test_the_multivariant_playlist_is_replaced_only_by_a_higher_stage(stack: Any, sha: str) -> None:
    """first rendition < stream copy < ladder: the first rendition (another process) never
    replaces what the build wrote; the build's stages replace each other in order."""
    from dailies.clients import s3_client
    from dailies.previews.layout import multivariant_key
    from dailies.previews.lifecycle import Stage, multivariant_published, publish_multivariant

    s3 = s3_client(stack)

    def body() -> str:
        got = s3.get_object(Bucket=stack.previews_bucket, Key=multivariant_key(sha))
        return f"{got['Body'].read().decode()} {got['CacheControl']}"

    assert multivariant_published(s3, stack, sha) is False
    assert publish_multivariant(s3, stack, sha, "first", Stage.FIRST_RENDITION) is True
    assert multivariant_published(s3, stack, sha) is True
    assert publish_multivariant(s3, stack, sha, "first again", Stage.FIRST_RENDITION) is False
    assert publish_multivariant(s3, stack, sha, "copy", Stage.STREAM_COPY) is True
    assert body() == "copy public, max-age=2"
    assert publish_multivariant(s3, stack, sha, "ladder", Stage.LADDER) is True
    assert publish_multivariant(s3, stack, sha, "late first", Stage.FIRST_RENDITION) is False
    assert body() == "ladder public, max-age=300"
