"""Large objects: multipart copy, constant-memory hashing, a worker killed mid-copy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from dailies.clients import s3_copy_client
from dailies.copy_plan import plan_copy_parts
from dailies.promotion_rules import retain_until_from, validate_promotion_request
from dailies.settings import get_settings
from dailies.storage import masters as masters_bucket
from flows.promote import promote_master
from tasks.promotion import hash_staging_object
from tests.store_proxy import RecordingFaults, store_behind_proxy
from tests.stores import both_stores

MiB = 1024**2
# HEAD ?partNumber=1 of a multipart object: moto answers with PartsCount (as AWS documents);
# RGW 16.2.15 ignores partNumber there (the whole object, no x-amz-mp-parts-count).
REPORTS_PARTS_COUNT = {"moto": True, "rgw": False}


@pytest.fixture
def small_multipart_threshold(store, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DAILIES_MULTIPART_COPY_THRESHOLD_BYTES", str(5 * MiB))
    monkeypatch.setenv("DAILIES_MULTIPART_COPY_PART_BYTES", str(5 * MiB))
    monkeypatch.setenv("DAILIES_LOCK_LEASE_S", "3")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _stage_file(s3, settings, tmp_path: Path, size: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Write `size` pseudo-random bytes to disk and upload them (boto3 multipart upload)."""
    import hashlib

    path = tmp_path / "master.bin"
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with path.open("wb") as out:
        for i in range(size // MiB):
            chunk = block[i % 7 :] + block[: i % 7]  # vary blocks so parts differ
            out.write(chunk)
            digest.update(chunk)
    key = f"uploads/{uuid.uuid4()}/master.bin"
    s3.upload_file(str(path), settings.staging_bucket, key)
    path.unlink()
    return key, digest.hexdigest()


@pytest.fixture
def store_requests(small_multipart_threshold, s3) -> Iterator[RecordingFaults]:  # type: ignore[no-untyped-def]
    """What this process's promotions send to the store, seen at a proxy in front of it (the
    test's own `s3` client, made first, goes to the store directly and is not counted)."""
    with store_behind_proxy(small_multipart_threshold) as (_, recorded):
        yield recorded


def _part_copies(recorded: RecordingFaults, key: str) -> list[tuple[int, str]]:
    """(part number, x-amz-copy-source-range) of each UploadPartCopy of `key` that reached
    the store: a PUT with a partNumber and a copy source (a plain CopyObject has no part)."""
    copies = []
    for method, target, headers in recorded.seen:
        url = urlsplit(target)
        part = parse_qs(url.query).get("partNumber")
        if method == "PUT" and url.path.endswith(f"/{key}") and "x-amz-copy-source" in headers:
            copies += [(int(part[0]), headers["x-amz-copy-source-range"])] if part else []
    return sorted(copies)


@both_stores
def test_multipart_copy_path_locks_the_completed_object(
    small_multipart_threshold, s3, store_requests, store, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = small_multipart_threshold
    key, sha = _stage_file(s3, settings, tmp_path, 12 * MiB)

    result = promote_master(key, sha)

    assert result["status"] == "promoted"
    # 12 MiB in 5 MiB parts: three UploadPartCopy calls reached the store, one per range
    assert _part_copies(store_requests, sha) == [
        (1, f"bytes=0-{5 * MiB - 1}"),
        (2, f"bytes={5 * MiB}-{10 * MiB - 1}"),
        (3, f"bytes={10 * MiB}-{12 * MiB - 1}"),
    ]
    head = s3.head_object(Bucket=settings.masters_bucket, Key=sha, VersionId=result["version_id"])
    assert head["ContentLength"] == 12 * MiB
    # moto and RGW both drop lock headers given to CreateMultipartUpload (AWS applies them):
    # the flow re-asserted retention on the completed object
    assert head["ObjectLockMode"] == settings.retention_mode
    # the store's own word that the object is three parts: a multipart ETag ends "-<parts>"
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    # and its parts count on a part HEAD, where it reports one
    part = s3.head_object(Bucket=settings.masters_bucket, Key=sha, PartNumber=1)
    assert part.get("PartsCount") == (3 if REPORTS_PARTS_COUNT[store] else None)
    body = s3.get_object(Bucket=settings.masters_bucket, Key=sha)["Body"]
    import hashlib

    assert hashlib.sha256(body.read()).hexdigest() == sha
    uploads = s3.list_multipart_uploads(Bucket=settings.masters_bucket).get("Uploads", [])
    assert [u for u in uploads if u["Key"] == sha] == []


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
def test_hashing_memory_does_not_grow_with_object_size(stack, s3, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """200 MiB hashed by 4 ranged GETs of 4 MiB at a time: RSS grows by about the window
    (16 MiB), not by the object."""
    monkeypatch.setenv("DAILIES_HASH_PART_BYTES", str(4 * MiB))
    monkeypatch.setenv("DAILIES_HASH_PARTS_IN_FLIGHT", "4")
    get_settings.cache_clear()
    key, sha = _stage_file(s3, stack, tmp_path, 200 * MiB)
    request = validate_promotion_request(key, sha)
    baseline = _rss_bytes()
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        staged = hash_staging_object.fn(request)
    finally:
        done.set()
        sampler.join()
        get_settings.cache_clear()

    assert staged.sha256 == sha and staged.size_bytes == 200 * MiB
    # the window's 16 MiB of buffers, and the threads and connections that fill them
    assert peak - baseline < 16 * MiB + 24 * MiB, f"RSS grew by {(peak - baseline) / MiB:.1f} MiB"


@pytest.mark.slow
def test_worker_killed_mid_copy_leaves_no_object_and_next_run_resumes_it(
    small_multipart_threshold, s3, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The worker's second UploadPartCopy is held at a store proxy: the upload exists and its
    first part is copied, the object is not complete. The worker is SIGKILLed right there."""
    settings = small_multipart_threshold
    key, sha = _stage_file(s3, settings, tmp_path, 15 * MiB)

    def second_part(method: str, path: str, headers: dict[str, str]) -> bool:
        copying = any(name.lower() == "x-amz-copy-source" for name in headers)
        return method == "PUT" and copying and f"/{sha}?" in path and "partNumber=2" in path

    with store_behind_proxy(settings) as (proxy, _):
        held = proxy.hold(second_part)
        # one part at a time, so part 1 is copied before part 2 is asked for
        env = {**os.environ, "DAILIES_COPY_CONCURRENCY": "1"}
        worker = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "promote", key, sha, "--local"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            reached = held.wait(120)
            assert reached, f"the worker never asked for part 2 (exit code {worker.poll()})"
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(30)
            held.release()

    # killed mid-copy: no object in masters, only an incomplete upload
    listed = s3.list_object_versions(Bucket=settings.masters_bucket, Prefix=sha)
    assert [v for v in listed.get("Versions", []) if v["Key"] == sha] == []
    uploads = s3.list_multipart_uploads(Bucket=settings.masters_bucket).get("Uploads", [])
    assert len([u for u in uploads if u["Key"] == sha]) == 1

    with store_behind_proxy(settings) as (_, recorded):
        result = promote_master(key, sha)

    assert result["status"] == "promoted"
    # the next run resumed the upload: part 1 was not copied again; part 3 was (part 2 too,
    # unless the held request, released after the kill, reached the store first)
    assert {3} <= {n for n, _ in _part_copies(recorded, sha)} <= {2, 3}
    listed = s3.list_object_versions(Bucket=settings.masters_bucket, Prefix=sha)
    assert len([v for v in listed.get("Versions", []) if v["Key"] == sha]) == 1
    uploads = s3.list_multipart_uploads(Bucket=settings.masters_bucket).get("Uploads", [])
    assert [u for u in uploads if u["Key"] == sha] == []


def test_a_copy_the_store_did_not_answer_in_time_is_resumed_not_restarted(
    small_multipart_threshold, s3, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Part 2's UploadPartCopy gets no answer within the client's read timeout: the upload
    is kept with what it holds, and the next copy sends only what it lacks."""
    import hashlib

    import boto3
    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    settings = small_multipart_threshold
    key, sha = _stage_file(s3, settings, tmp_path, 15 * MiB)
    etag = s3.head_object(Bucket=settings.staging_bucket, Key=key)["ETag"]
    dest = masters_bucket.LockedCopy(
        bucket=settings.masters_bucket, key=sha, metadata={"sha256": sha},
        retention_mode=settings.retention_mode,
        retain_until=retain_until_from(datetime.now(UTC), settings.retention_days),
    )  # fmt: skip

    def part_2(method: str, path: str, headers: dict[str, str]) -> bool:
        copying = any(name.lower() == "x-amz-copy-source" for name in headers)
        return method == "PUT" and copying and f"/{sha}?" in path and "partNumber=2" in path

    with store_behind_proxy(settings) as (proxy, recorded):
        held = proxy.hold(part_2)
        impatient = boto3.client(
            "s3", endpoint_url=proxy.url, region_name=settings.aws_region,
            config=Config(read_timeout=1, retries={"total_max_attempts": 1},
                          s3={"addressing_style": "path"}, signature_version="s3v4"),
        )  # fmt: skip
        copy = (settings.staging_bucket, key, etag, dest, plan_copy_parts(15 * MiB, 5 * MiB))
        try:
            with pytest.raises(ReadTimeoutError):
                masters_bucket.copy_multipart(impatient, *copy, concurrency=1)
            uploads = s3.list_multipart_uploads(Bucket=settings.masters_bucket)["Uploads"]
            (upload,) = [u for u in uploads if u["Key"] == sha]
            parts = s3.list_parts(Bucket=dest.bucket, Key=sha, UploadId=upload["UploadId"])
            assert [p["PartNumber"] for p in parts["Parts"]] == [1, 3]
            recorded.seen.clear()

            # the promotion's own copy client, made after the proxy took the store's place
            version, kept = masters_bucket.copy_multipart(s3_copy_client(), *copy, concurrency=1)
        finally:
            held.release()

    assert [n for n, _ in _part_copies(recorded, sha)] == [2]
    assert kept == 2
    head = s3.head_object(Bucket=settings.masters_bucket, Key=sha, VersionId=version)
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    body = s3.get_object(Bucket=settings.masters_bucket, Key=sha, VersionId=version)["Body"]
    assert hashlib.sha256(body.read()).hexdigest() == sha
