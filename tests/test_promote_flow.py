"""The promotion flow against real S3 (moto, and Ceph RGW where marked), Postgres, Redis and a
Prefect server."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import func, select

from dailies.db.models import Asset, Master, PromotionAttempt
from dailies.media.probe import parse_probe
from dailies.storage.masters import masters_key_for
from dailies.storage.objects import error_code, object_tags
from flows.promote import promote_master
from tests import preview_fixtures as media
from tests.prefect_runs import task_retries
from tests.staging import random_bytes, stage_bytes, unreadable_bytes
from tests.store_proxy import store_behind_proxy
from tests.stores import both_stores


def _versions(s3, settings, sha):  # type: ignore[no-untyped-def]
    listed = s3.list_object_versions(Bucket=settings.masters_bucket, Prefix=sha)
    return [v for v in listed.get("Versions", []) if v["Key"] == sha]


def _attempts(db_session, sha):  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return list(db_session.scalars(select(PromotionAttempt).where(PromotionAttempt.sha256 == sha)))


@both_stores
def test_happy_path_promotes_into_locked_masters(settings, s3, db_session) -> None:  # type: ignore[no-untyped-def]
    # moto refuses CopyObject with lock headers and RGW ignores them (and answers without a
    # version id): on both, the lock checked here is the one the flow re-asserted.
    key, sha = stage_bytes(s3, settings, unreadable_bytes(256 * 1024))
    result = promote_master(key, sha.upper(), {"asset_id": f"asset-{sha[:8]}", "project": "p1"})

    assert result["status"] == "promoted"
    assert result["sha256"] == sha
    assert result["masters_key"] == masters_key_for(sha)
    assert result["size_bytes"] == 256 * 1024
    head = s3.head_object(Bucket=settings.masters_bucket, Key=sha, VersionId=result["version_id"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retain = head["ObjectLockRetainUntilDate"]
    assert retain > datetime.now(UTC) + timedelta(days=settings.retention_days - 1)
    assert head["Metadata"]["sha256"] == sha

    row = db_session.get(Master, sha)
    assert row is not None and row.version_id == result["version_id"]
    assert row.source_staging_key == key
    assert row.probe is None  # not media: kept all the same, with nothing to describe
    asset = db_session.get(Asset, f"asset-{sha[:8]}")
    assert asset.master_sha256 == sha and asset.attributes == {"project": "p1"}
    assert [a.outcome for a in _attempts(db_session, sha)] == ["promoted"]

    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=settings.masters_bucket, Key=sha, VersionId=result["version_id"])
    assert error_code(refused.value) == "AccessDenied"
    assert len(_versions(s3, settings, sha)) == 1


@both_stores
def test_wrong_checksum_leaves_masters_untouched(settings, s3, db_session) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(64 * 1024)
    key, actual = stage_bytes(s3, settings, data)
    claimed = hashlib.sha256(random_bytes(16)).hexdigest()  # its own per run (and per store)

    state = promote_master(key, claimed, return_state=True)

    assert state.is_failed()
    assert claimed in state.message and actual in state.message
    assert _versions(s3, settings, claimed) == [] and _versions(s3, settings, actual) == []
    assert db_session.get(Master, claimed) is None and db_session.get(Master, actual) is None
    attempts = _attempts(db_session, claimed)
    assert [a.outcome for a in attempts] == ["failed"]
    assert actual in attempts[0].reason and "mismatch" in attempts[0].reason
    # the upload is kept and tagged for quarantine, never deleted
    assert s3.get_object(Bucket=settings.staging_bucket, Key=key)["Body"].read() == data
    tags = object_tags(s3, settings.staging_bucket, key)
    assert tags["dailies-quarantine"] == "checksum-mismatch"
    assert tags["dailies-computed-sha256"] == actual


@both_stores
def test_same_content_twice_is_one_master(settings, s3, db_session) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(100 * 1024)
    key1, sha = stage_bytes(s3, settings, data)
    key2, _ = stage_bytes(s3, settings, data, name="copy-of-clip.mov")

    first = promote_master(key1, sha, {"asset_id": f"a1-{sha[:6]}"})
    again = promote_master(key1, sha)
    other_key = promote_master(key2, sha, {"asset_id": f"a2-{sha[:6]}"})

    assert first["status"] == "promoted"
    assert again["status"] == other_key["status"] == "already_promoted"
    assert again["version_id"] == other_key["version_id"] == first["version_id"]
    assert len(_versions(s3, settings, sha)) == 1
    count = db_session.scalar(select(func.count()).select_from(Master).where(Master.sha256 == sha))
    assert count == 1
    linked = db_session.scalars(select(Asset.asset_id).where(Asset.master_sha256 == sha)).all()
    assert sorted(linked) == sorted([f"a1-{sha[:6]}", f"a2-{sha[:6]}"])


@pytest.mark.slow
def test_twenty_concurrent_promotions_make_one_version_and_one_row(
    settings, s3, db_session
) -> None:  # type: ignore[no-untyped-def]
    data = random_bytes(512 * 1024)
    staged = [stage_bytes(s3, settings, data) for _ in range(20)]
    sha = staged[0][1]

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda ks: promote_master(ks[0], ks[1]), staged))

    statuses = sorted(r["status"] for r in results)
    assert statuses.count("promoted") == 1
    assert statuses.count("already_promoted") == 19
    assert len({r["version_id"] for r in results}) == 1
    assert len(_versions(s3, settings, sha)) == 1
    count = db_session.scalar(select(func.count()).select_from(Master).where(Master.sha256 == sha))
    assert count == 1


@pytest.mark.parametrize(
    "key, sha, reason",
    [
        ("uploads/x/clip.mov", "not-a-sha", "64 hexadecimal"),
        ("elsewhere/clip.mov", "c" * 64, "under 'uploads/'"),
        ("uploads/../etc/passwd", "a" * 64, "under 'uploads/'"),
        ("uploads/never-uploaded/clip.mov", "b" * 64, "no object at"),
    ],
)
def test_bad_input_fails_with_a_reason_and_writes_nothing(
    settings, s3, db_session, key, sha, reason
) -> None:  # type: ignore[no-untyped-def]
    state = promote_master(key, sha, return_state=True)
    assert state.is_failed()
    assert reason in state.message
    assert _versions(s3, settings, sha) == []
    assert db_session.get(Master, sha) is None
    assert [a.outcome for a in _attempts(db_session, sha[:64])] == ["failed"]


def test_cli_promote_prints_the_result_and_fails_plainly(settings, s3) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from ops.cli import app

    key, sha = stage_bytes(s3, settings, random_bytes(4096))
    argv = ["promote", key, sha, "--asset-id", f"cli-{sha[:6]}", "--local"]
    ok = CliRunner().invoke(app, [*argv, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output[ok.output.index("{") :])["status"] == "promoted"
    again = CliRunner().invoke(app, argv)  # the short summary, one line
    assert again.exit_code == 0, again.output
    (line,) = again.output.strip().splitlines()
    assert line.startswith(f"already_promoted: s3://{settings.masters_bucket}/{sha} version ")

    bad = CliRunner().invoke(app, ["promote", key, "0" * 64, "--local"])
    assert bad.exit_code == 1
    # one line, no Prefect traceback (the run's page in the UI has it)
    assert bad.output.strip().startswith("promotion failed: ") and "sha256 mismatch" in bad.output
    assert len(bad.output.strip().splitlines()) == 1, bad.output

    missing = CliRunner().invoke(app, ["promote", "uploads/nope/missing.mov", sha, "--local"])
    assert missing.exit_code == 2 and "no object at s3://" in missing.output
    assert len(missing.output.strip().splitlines()) == 1, missing.output


@both_stores
def test_staging_object_overwritten_after_hashing_is_not_promoted(settings, s3, db_session) -> None:  # type: ignore[no-untyped-def]
    """The whole flow, with its tasks' caching and retries: its copy step is held at the
    store (its first request, a HEAD of the masters key) while the staged object is
    replaced, after the hash and before the copy."""
    from dailies.errors import StagingObjectChanged

    # Neither moto nor RGW refuses a CopySourceIfMatch that no longer matches (AWS does):
    # on both, our own check of the ETag before the copy is what refuses it.
    key, sha = stage_bytes(s3, settings, random_bytes(8192))
    masters_path = f"/{settings.masters_bucket}/{sha}"
    with store_behind_proxy(settings) as (proxy, _), ThreadPoolExecutor(1) as pool:
        copying = proxy.hold(lambda method, path, _: method == "HEAD" and path == masters_path)
        run = pool.submit(promote_master, key, sha, return_state=True)
        assert copying.wait(120), "the flow never reached the copy"
        s3.put_object(Bucket=settings.staging_bucket, Key=key, Body=random_bytes(8192))
        copying.release()
        state = run.result(120)
    with pytest.raises(StagingObjectChanged, match="changed after it was hashed"):
        state.result()

    assert _versions(s3, settings, sha) == []
    assert [a.outcome for a in _attempts(db_session, sha)] == ["failed"]
    # our typed error: the copy task (retried on transient trouble) was not retried
    retried = task_retries(state.state_details.flow_run_id, settled="copy_to_masters")
    assert retried["copy_to_masters"] == 0


def test_a_video_master_is_probed_once_at_promotion(settings, s3, db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The catalog row carries ffprobe's description, read through the masters bucket, so
    the first rendition need not probe over the network while a reviewer waits."""
    path = media.make_prores_hq(tmp_path / "probe-me.mov", seconds=1, size="640x360")
    sha = media.stage_and_promote(s3, settings, path)

    db_session.expire_all()
    row = db_session.get(Master, sha)
    assert row is not None and row.probe is not None
    probe = parse_probe(row.probe)
    assert (probe.width, probe.height, probe.video_codec) == (640, 360, "prores")
    assert probe.audio is not None
    assert probe.duration_s == pytest.approx(1.0, abs=0.1)
