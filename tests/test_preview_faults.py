"""Every preview ends ready or clearly failed: a cache that outlived its objects, clips too
short or mislabelled for the usual assumptions, a hung ffmpeg. Real stack, real ffmpeg."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from dailies.clients import s3_client, session_scope
from dailies.db.models import Preview
from dailies.errors import EncodeTimedOut
from dailies.settings import get_settings
from flows.preview import build_preview
from flows.promote import promote_master
from tests import preview_fixtures as media
from tests.faults.flaky_s3 import Match
from tests.prefect_runs import task_retries
from tests.staging import random_bytes, stage_bytes
from tests.store_proxy import store_behind_proxy

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def superfast(stack, monkeypatch):  # type: ignore[no-untyped-def]
    """The fastest x264 preset that keeps High profile: these tests check outcomes."""
    monkeypatch.setattr(stack, "x264_preset", "superfast")


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    return tmp_path


def _promote(stack: Any, path: Path) -> str:
    return media.stage_and_promote(s3_client(stack), stack, path)


def _keys(stack: Any, sha: str) -> list[str]:
    listed = s3_client(stack).list_objects_v2(Bucket=stack.previews_bucket, Prefix=f"{sha}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def _delete_all(stack: Any, sha: str) -> None:
    """What an operator's delete, a lifecycle rule or a new store leaves: nothing."""
    s3 = s3_client(stack)
    for key in _keys(stack, sha):
        s3.delete_object(Bucket=stack.previews_bucket, Key=key)
    assert _keys(stack, sha) == []


def _row(stack: Any, sha: str) -> Preview:
    with session_scope(stack) as session:
        row = session.get(Preview, sha)
        assert row is not None
        session.expunge(row)
        return row


def _assert_complete(stack: Any, result: dict[str, Any], public: str) -> None:
    """Every object the result names is there, and ffprobe plays the multivariant playlist
    through."""
    sha, s3 = result["sha256"], s3_client(stack)
    keys = [result["manifest_key"], result["mp4_key"], result["poster_key"]]
    keys += [result["storyboard_key"]] if result["storyboard_key"] else []
    keys += [f"{sha}/{r['name']}/index.m3u8" for r in result["renditions"]]
    for key in keys:
        s3.head_object(Bucket=stack.previews_bucket, Key=key)
    probed = media.ffprobe_json(f"{public}/{result['manifest_key']}", "-show_format")
    assert abs(float(probed["format"]["duration"]) - result["duration_s"]) <= 0.1
    assert _row(stack, sha).status == "ready"


# --- caches are checked against the bucket ---


def test_ready_row_whose_objects_are_gone_is_rebuilt(stack, clips, previews_url):
    sha = _promote(stack, media.make_small(clips / "deleted.mp4"))
    assert build_preview(sha)["status"] == "ready"
    _delete_all(stack, sha)

    again = build_preview(sha)
    assert again["status"] == "ready" and again["cache_hit"] is False
    _assert_complete(stack, again, previews_url)


def test_cached_result_whose_objects_are_gone_is_rebuilt(stack, clips, previews_url):
    """The row no longer says ready (a failed later attempt), so the flow reaches the cached
    build task: its result names objects the bucket lost, and must not be trusted."""
    sha = _promote(stack, media.make_small(clips / "expired.mp4"))
    build_preview(sha)
    _delete_all(stack, sha)
    with session_scope(stack) as session:
        session.execute(update(Preview).where(Preview.sha256 == sha).values(status="failed"))

    again = build_preview(sha)
    assert again["status"] == "ready" and again["cache_hit"] is False
    _assert_complete(stack, again, previews_url)


def test_cached_result_whose_objects_exist_is_still_a_cache_hit(stack, clips):
    sha = _promote(stack, media.make_small(clips / "kept.mp4"))
    build_preview(sha)
    with session_scope(stack) as session:
        session.execute(update(Preview).where(Preview.sha256 == sha).values(status="failed"))
    again = build_preview(sha)
    assert again["status"] == "ready" and again["cache_hit"] is True


# --- masters that break the usual assumptions ---


def test_a_third_of_a_second_master_gets_a_one_tile_storyboard(stack, clips, previews_url):
    sha = _promote(stack, media.make_small(clips / "blink.mp4", seconds=0.3))
    state = build_preview(sha, return_state=True)
    result = state.result()
    assert result["status"] == "ready" and result["duration_s"] == pytest.approx(0.3, abs=0.05)
    _assert_complete(stack, result, previews_url)
    vtt = s3_client(stack).get_object(Bucket=stack.previews_bucket, Key=result["storyboard_key"])
    text = vtt["Body"].read().decode()
    assert text.count("#xywh=") == 1 and "00:00:00.000 --> 00:00:00.3" in text
    sprite = text.split("#xywh=")[0].split()[-1]
    sheet = media.ffprobe_json(f"{previews_url}/{sha}/{sprite}", "-show_streams")
    assert (sheet["streams"][0]["width"], sheet["streams"][0]["height"]) == (160, 90)
    assert sum(task_retries(state.state_details.flow_run_id, "build_preview_files").values()) == 0


def test_master_claiming_twenty_times_its_length_builds_at_its_real_length(
    stack, clips, previews_url
):
    path = media.make_misstated_duration(clips / "claims-60s.mp4", seconds=3, claims=20)
    assert float(media.ffprobe_json(str(path), "-show_format")["format"]["duration"]) == 60
    sha = _promote(stack, path)
    state = build_preview(sha, return_state=True)
    result = state.result()
    assert result["status"] == "ready" and result["duration_s"] == pytest.approx(3.0, abs=0.1)
    _assert_complete(stack, result, previews_url)
    poster = media.ffprobe_json(f"{previews_url}/{result['poster_key']}", "-show_streams")
    assert poster["streams"][0]["width"] == 640
    mp4 = media.ffprobe_json(f"{previews_url}/{result['mp4_key']}", "-show_format")
    assert float(mp4["format"]["duration"]) == pytest.approx(3.0, abs=0.1)
    assert sum(task_retries(state.state_details.flow_run_id, "build_preview_files").values()) == 0


def test_master_without_a_keyframe_in_its_first_seconds_builds_from_the_first_one(
    stack, clips, previews_url
):
    path = media.make_late_keyframe(clips / "joined-late.ts", seconds=6, cut_s=1)
    assert media.keyframe_times(str(path))[0] > 5  # 4 s of undecodable frames first
    sha = _promote(stack, path)
    state = build_preview(sha, return_state=True)
    result = state.result()
    assert result["status"] == "ready"
    _assert_complete(stack, result, previews_url)
    assert sum(task_retries(state.state_details.flow_run_id, "build_preview_files").values()) == 0


# --- a hung ffmpeg ---


def test_an_encode_past_its_time_limit_fails_once_with_a_reason(stack, clips, monkeypatch):
    sha = _promote(stack, media.make_small(clips / "slow.mp4", seconds=4))
    # The settings the build reads (get_settings()), which another test may have rebuilt.
    settings = get_settings()
    monkeypatch.setattr(settings, "preview_ffmpeg_timeout_floor_s", 0.2)
    monkeypatch.setattr(settings, "preview_ffmpeg_timeout_per_media_s", 0.0)
    state = build_preview(sha, return_state=True)
    assert state.is_failed()
    with pytest.raises(EncodeTimedOut, match="longer than its 0.2 s limit"):
        state.result()
    row = _row(stack, sha)
    assert row.status == "failed" and row.error is not None
    assert "EncodeTimedOut" in row.error and "0.2 s limit" in row.error
    assert "\n" not in row.error.strip()
    assert not list(Path(tempfile.gettempdir()).glob(f"dailies-preview-{sha[:12]}-*"))
    assert sum(task_retries(state.state_details.flow_run_id, "build_preview_files").values()) == 0


# --- what Prefect retries, as its server records it ---

# boto3's own tries of one call: the first and its 5 retries (dailies/clients.py's
# max_attempts counts retries); when all of them fail, the task sees the error.
BOTO_TRIES = 1 + 5


def _staging_head(key: str) -> Match:
    return lambda method, path, _: method == "HEAD" and path.split("?")[0].endswith(f"/{key}")


@pytest.mark.parametrize(("fault", "final", "heads"), [("throttled", "Completed", BOTO_TRIES + 2),
                                                       ("bug", "Failed", 1)])  # fmt: skip
def test_a_throttled_store_is_retried_and_a_bug_is_not(stack, fault, final, heads):
    """The promotion flow's hashing task (transient_retries) meets the store through a proxy.
    Throttled: 503 SlowDown to every one of boto3's tries of the staged object's HEAD,
    once; Prefect retries the task and the run completes. A bug: that HEAD answered 200 with
    no ETag (the proxy sends a planned status with no S3 headers); the task's KeyError is
    no trouble that passes, so it fails at once, though a second attempt would succeed."""
    key, sha = stage_bytes(s3_client(stack), stack, random_bytes(4096))
    with store_behind_proxy(stack) as (proxy, recorded):
        times, status = (BOTO_TRIES, 503) if fault == "throttled" else (1, 200)
        outage = proxy.outage(_staging_head(key), times=times, status=status)
        state = promote_master(key, sha, return_state=True)
    assert outage.failed == times
    # HEADs of the staged object. Throttled: boto3's failed tries, the retried task's, the
    # copy's ETag check. A bug: the one answered without an ETag, and no second attempt.
    assert sum(_staging_head(key)(m, p, h) for m, p, h in recorded.seen) == heads
    assert state.type.value.title() == final, state.message
    if fault == "bug":
        with pytest.raises(KeyError, match="ETag"):
            state.result()
    counted = task_retries(state.state_details.flow_run_id, settled="hash_staging_object")
    assert (counted["hash_staging_object"] > 0) is (fault == "throttled")  # as Prefect saw it
