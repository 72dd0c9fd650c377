"""Pure preview rules the trigger table (test_preview_rules.py) leaves out: what a request
may ask of a pool, the row as the trigger reads it, the manifest URL, boundaries of decide."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from dailies.db.models import Preview
from dailies.db.previews import PreviewStatus as S
from dailies.errors import InvalidRequest, InvalidSha256
from dailies.preview_rules import (
    Action,
    Liveness,
    PreviewSnapshot,
    PreviewTiming,
    Verdict,
    decide,
    judge_run,
    manifest_url,
    snapshot_of,
)
from dailies.previews.request import PreviewRequest, validate_preview_request

SHA = hashlib.sha256(b"x").hexdigest()
NOW = datetime(2026, 1, 1, tzinfo=UTC)
TIMING = PreviewTiming(retry_after_s=5, retry_base_s=30, retry_max_s=3600)


@pytest.mark.parametrize(
    ("encoder", "pool", "expected"),
    [
        ("auto", None, "auto"),
        (" NVENC ", None, "nvenc"),
        ("cpu", None, "cpu"),
        ("auto", "cpu", "cpu"),  # a cpu pool never probes for a GPU
        ("cpu", "cpu", "cpu"),
        ("auto", "nvenc", "auto"),
        ("nvenc", "nvenc", "nvenc"),
        ("nvenc", "auto", "nvenc"),
    ],
)
def test_a_request_is_what_the_pool_will_run(encoder: str, pool: str | None, expected: str) -> None:
    assert validate_preview_request(SHA.upper(), encoder, pool) == PreviewRequest(SHA, expected)


def test_the_default_encoder_is_auto() -> None:
    assert validate_preview_request(SHA) == PreviewRequest(SHA, "auto")


def test_a_cpu_pool_refuses_nvenc_and_says_where_to_go() -> None:
    with pytest.raises(InvalidRequest) as refused:
        validate_preview_request(SHA, "nvenc", "cpu")
    assert str(refused.value) == (
        "encoder nvenc was asked of a cpu pool worker, which has no NVENC: run the "
        "preview-gpu deployment, or ask for auto or cpu"
    )


def test_a_bad_sha_or_encoder_is_refused_before_the_pool_is_considered() -> None:
    with pytest.raises(InvalidSha256):
        validate_preview_request("abc", "auto", "cpu")
    with pytest.raises(InvalidRequest, match="encoder must be one of"):
        validate_preview_request(SHA, "quicksync", "cpu")


def test_no_row_is_a_missing_preview() -> None:
    assert snapshot_of(None) == PreviewSnapshot()
    assert snapshot_of(None).status is S.MISSING


def test_a_row_is_read_field_by_field() -> None:
    updated, finished = NOW - timedelta(seconds=9), NOW - timedelta(seconds=3)
    row = Preview(
        sha256=SHA, status="failed", flow_run_id="run-1", attempts=3, error="boom",
        progress=0.25, updated_at=updated, finished_at=finished,
    )  # fmt: skip
    assert snapshot_of(row) == PreviewSnapshot(
        status=S.FAILED, flow_run_id="run-1", attempts=3, error="boom", progress=0.25,
        updated_at=updated, finished_at=finished,
    )  # fmt: skip


def test_a_row_not_yet_flushed_has_no_attempts() -> None:
    """`attempts` is filled in by the database default: None before the insert."""
    assert snapshot_of(Preview(sha256=SHA, status="queued")).attempts == 0


@pytest.mark.parametrize(
    "edge", ["https://edge.example", "https://edge.example/", "https://edge.example//"]
)
def test_manifest_url_is_under_previews_on_the_edge(edge: str) -> None:
    assert manifest_url(edge, SHA) == f"https://edge.example/previews/{SHA}/manifest.m3u8"


def test_a_paused_run_is_alive_however_old_its_row() -> None:
    assert judge_run("PAUSED", 10_000, stall_s=300) == Liveness.ALIVE
    assert judge_run("PAUSED", 10_000, stall_s=300, worker_lost=True) == Liveness.ALIVE


@pytest.mark.parametrize("age_s", [0, 119.9, 120, 10**6])
def test_an_active_row_with_a_run_is_in_flight_however_quiet(age_s: float) -> None:
    """A request never judges the run (that is the liveness sweep's job, off the request
    path): it answers in flight, with the usual wait."""
    snapshot = PreviewSnapshot(
        status=S.BUILDING, flow_run_id="r", updated_at=NOW - timedelta(seconds=age_s)
    )
    assert decide(snapshot, NOW, TIMING) == Verdict(Action.IN_FLIGHT, 5)


@pytest.mark.parametrize(
    ("failed_s_ago", "action", "retry_after"),
    [
        (29.2, Action.BACKING_OFF, 1),  # under a second left: still a one-second wait
        (29.999, Action.BACKING_OFF, 1),
        (28.5, Action.BACKING_OFF, 2),
        (30, Action.LAUNCH, 0),  # the backoff is over at exactly base seconds
    ],
)
def test_the_last_second_of_a_backoff_is_still_a_wait(
    failed_s_ago: float, action: Action, retry_after: int
) -> None:
    snapshot = PreviewSnapshot(
        status=S.FAILED, attempts=1, finished_at=NOW - timedelta(seconds=failed_s_ago)
    )
    verdict = decide(snapshot, NOW, TIMING)
    assert (verdict.action, verdict.retry_after_s) == (action, retry_after)
