"""Pure preview-trigger decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dailies.db.models import Preview
from dailies.db.previews import PreviewStatus as S
from dailies.db.previews import parse_status
from dailies.preview_rules import (
    Action,
    Liveness,
    PreviewSnapshot,
    PreviewTiming,
    backoff_s,
    decide,
    judge_run,
    manifest_url,
    public_reason,
)
from dailies.previews.lifecycle import building_elsewhere

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TIMING = PreviewTiming(retry_after_s=5, retry_base_s=30, retry_max_s=3600)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("snapshot", "action", "retry_after"),
    [
        (PreviewSnapshot(), Action.LAUNCH, 0),
        (PreviewSnapshot(status=S.READY), Action.READY, 0),
        (PreviewSnapshot(status=S.QUEUED, flow_run_id="r", updated_at=ago(1)), Action.IN_FLIGHT, 5),
        (
            PreviewSnapshot(status=S.BUILDING, flow_run_id="r", updated_at=ago(5)),
            Action.IN_FLIGHT,
            5,
        ),
        # quiet for long: still in flight here; the liveness sweep judges its run
        (
            PreviewSnapshot(status=S.QUEUED, flow_run_id="r", updated_at=ago(9999)),
            Action.IN_FLIGHT,
            5,
        ),
        (PreviewSnapshot(status=S.QUEUED, flow_run_id=None, updated_at=ago(1)), Action.LAUNCH, 0),
        (PreviewSnapshot(status=S.FAILED, attempts=1, finished_at=ago(10)), Action.BACKING_OFF, 20),
        (PreviewSnapshot(status=S.FAILED, attempts=1, finished_at=ago(31)), Action.LAUNCH, 0),
        (PreviewSnapshot(status=S.FAILED, attempts=3, finished_at=ago(31)), Action.BACKING_OFF, 89),
        (PreviewSnapshot(status=S.FAILED, attempts=3, updated_at=ago(121)), Action.LAUNCH, 0),
        (PreviewSnapshot(status=parse_status("weird"), flow_run_id="r"), Action.IN_FLIGHT, 5),
    ],
)
def test_decide(snapshot: PreviewSnapshot, action: Action, retry_after: int) -> None:
    verdict = decide(snapshot, NOW, TIMING)
    assert (verdict.action, verdict.retry_after_s) == (action, retry_after)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n, 30, 3600) for n in (0, 1, 2, 3, 8, 100)] == [30, 30, 60, 120, 3600, 3600]
    # The exponent itself stops at 30, so a huge attempt count never builds a huge integer.
    assert backoff_s(10**9, 1, 2**40) == 2**30


def test_the_manifest_url_drops_only_trailing_slashes() -> None:
    sha = "ab" * 32
    assert manifest_url("https://edge.example/REVIEW-X//", sha) == (
        f"https://edge.example/REVIEW-X/previews/{sha}/manifest.m3u8"
    )


@pytest.mark.parametrize(
    ("state", "row_age_s", "liveness"),
    [
        (None, 0, Liveness.DIED),  # the run is gone
        ("CRASHED", 0, Liveness.DIED),
        ("RUNNING", 10, Liveness.ALIVE),
        ("RUNNING", 299.9, Liveness.ALIVE),
        ("RUNNING", 300, Liveness.DIED),  # stalled: its host is gone
        ("PENDING", 301, Liveness.DIED),
        ("SCHEDULED", 5, Liveness.ALIVE),
        ("SCHEDULED", 9999, Liveness.ALIVE),  # waiting for a worker or a slot, not dead
        ("FAILED", 0, Liveness.ENDED),
        ("CANCELLED", 999, Liveness.ENDED),
        ("COMPLETED", 0, Liveness.ENDED),
    ],
)
def test_judge_run(state: str | None, row_age_s: float, liveness: Liveness) -> None:
    assert judge_run(state, row_age_s, stall_s=300) == liveness


def test_a_run_whose_process_is_starting_is_judged_by_how_long_it_has_been_pending() -> None:
    """It waited for a worker (an old row), then its process began starting (a new state)."""
    assert judge_run("PENDING", 400, stall_s=300, state_age_s=2) == Liveness.ALIVE
    assert judge_run("PENDING", 400, stall_s=300, state_age_s=300) == Liveness.DIED
    assert judge_run("RUNNING", 400, stall_s=300, state_age_s=2) == Liveness.DIED


@pytest.mark.parametrize(
    ("state", "liveness"),
    [
        ("RUNNING", Liveness.DIED),  # the host is gone: no need to wait out the stall window
        ("PENDING", Liveness.DIED),
        ("SCHEDULED", Liveness.ALIVE),  # not taken by any worker yet
        ("COMPLETED", Liveness.ENDED),
    ],
)
def test_a_run_whose_worker_stopped_heartbeating_is_dead_at_once(
    state: str, liveness: Liveness
) -> None:
    assert judge_run(state, 1, stall_s=300, state_age_s=1, worker_lost=True) == liveness


@pytest.mark.parametrize(
    ("status", "owner", "age_s", "elsewhere"),
    [
        (S.BUILDING, "other", 10, True),  # a live build of another run: stand down
        (S.BUILDING, "other", 301, False),  # stalled: that run is dead, take over
        (S.BUILDING, "me", 10, False),  # this run's own retry
        (S.BUILDING, None, 10, False),
        (S.QUEUED, "other", 10, False),  # the API queued a new attempt
        (S.FAILED, "other", 10, False),
    ],
)
def test_building_elsewhere(status: S, owner: str | None, age_s: float, elsewhere: bool) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = Preview(
        sha256="a" * 64, status=status.value, flow_run_id=owner,
        updated_at=now - timedelta(seconds=age_s),
    )  # fmt: skip
    assert building_elsewhere(row, "me", now, stall_s=300) is elsewhere


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            "ffmpeg (HLS ladder) cannot read the master: "
            "/tmp/dailies-preview-0a1b2c3d4e5f-x8/master: Invalid data found when processing input",
            "ffmpeg (HLS ladder) cannot read the master: <scratch>: Invalid data found when "
            "processing input",
        ),
        (
            "[Errno 2] No such file or directory: "
            "'/var/scratch/dailies-preview-ab-1/flat/360p.mp4'",
            "[Errno 2] No such file or directory: '<scratch>'",
        ),
        ("poster failed: /root/.cache/x264.log", "poster failed: <worker path>"),
        ("see https://example.com/tmp/a for help", "see https://example.com/tmp/a for help"),
        ("no video stream", "no video stream"),
    ],
)
def test_failure_messages_shown_to_reviewers_keep_no_worker_paths(message: str, shown: str) -> None:
    assert public_reason(message) == shown


@pytest.mark.parametrize(
    ("silent_s", "interval_s", "lost_after_s", "lost"),
    [
        (14, 5, 0, False),
        (16, 5, 0, True),  # three 5 s heartbeats missed
        (16, 5, 60, False),  # a busy host's worker, late with a few heartbeats
        (60, 5, 60, False),
        (61, 5, 60, True),
        (89, None, 60, False),  # Prefect's default interval, 30 s: three missed is 90 s
        (91, None, 60, True),
        (float("inf"), 5, 60, True),  # never heard from
    ],
)
def test_a_worker_is_lost_after_three_heartbeats_and_the_floor(
    silent_s: float, interval_s: float | None, lost_after_s: float, lost: bool
) -> None:
    from dailies.runs import worker_is_lost

    assert worker_is_lost(silent_s, interval_s, lost_after_s) is lost
