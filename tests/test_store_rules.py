"""The S3 rules dailies' safety rests on, asked of each store (moto and Ceph RGW), with what
each one does. Where a store does not enforce a rule, the test next to it (named in
tests/README.md, "Two stores") shows that dailies' own guard does. Real answers, not
structural checks: a presigned URL is refused by the store or it is not.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from dailies.storage import staging
from dailies.storage.objects import error_code
from tests.staging import random_bytes, stage_bytes
from tests.stores import both_stores

pytestmark = both_stores

MiB = 1024**2


def _status(call: Any) -> int:
    """The HTTP status an S3 call got: 200, or the error's."""
    try:
        call()
    except ClientError as exc:
        return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
    return 200


def _locked_object(s3: Any, settings: Any, mode: str = "COMPLIANCE") -> tuple[str, str, datetime]:
    key = f"rules-{uuid.uuid4().hex}"
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    put = s3.put_object(
        Bucket=settings.masters_bucket, Key=key, Body=b"locked",
        ContentMD5=base64.b64encode(hashlib.md5(b"locked").digest()).decode(),
        ObjectLockMode=mode, ObjectLockRetainUntilDate=until,
    )  # fmt: skip
    return key, put["VersionId"], until


def test_presigned_part_urls_expired_or_tampered(store: str, settings: Any, s3: Any) -> None:
    """moto checks neither the signature nor the expiry of a presigned URL; RGW refuses both
    with 403, as AWS does. dailies presigns for one key, upload and part, for
    DAILIES_UPLOAD_URL_EXPIRY_S; only a store that verifies makes that binding real."""
    bucket, key = settings.staging_bucket, f"uploads/{uuid.uuid4()}/clip.mov"
    upload_id = staging.start_multipart(s3, bucket, key, "video/quicktime", 5 * MiB)
    try:
        url = staging.presign_part(s3, bucket, key, upload_id, 1, expires_s=2)
        signed_at = datetime.strptime(httpx.URL(url).params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        signature = httpx.URL(url).params["X-Amz-Signature"]
        tampered = url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
        other_part = url.replace("partNumber=1", "partNumber=2")
        assert other_part != url
        body = random_bytes(1024)
        refused = {
            "tampered": httpx.put(tampered, content=body).status_code,
            "other part": httpx.put(other_part, content=body).status_code,
        }
        assert httpx.put(url, content=body).status_code == 200
        # Expiry is an event in the store's clock: wait until it has passed, then ask.
        expires = signed_at.replace(tzinfo=UTC) + timedelta(seconds=2)
        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1.5)
        refused["expired"] = httpx.put(url, content=body).status_code
    finally:
        staging.abort_multipart(s3, bucket, key, upload_id)
    expected = {"moto": 200, "rgw": 403}[store]
    assert refused == {"tampered": expected, "other part": expected, "expired": expected}


def test_compliance_retention_cannot_be_shortened_or_bypassed(
    store: str, settings: Any, s3: Any
) -> None:
    """Deleting a COMPLIANCE version is refused by both. Shortening its retention or turning
    it into GOVERNANCE: moto allows both, RGW refuses (403), as AWS does. dailies never
    shortens a retention (promotion_rules.retention_needs_update only extends) and the audit
    reports one that lapses (test_audit_flow.py, planted faults)."""
    bucket = settings.masters_bucket
    key, version, until = _locked_object(s3, settings)

    def shorten() -> None:
        s3.put_object_retention(
            Bucket=bucket, Key=key, VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=12)},
        )  # fmt: skip

    def to_governance_with_bypass() -> None:
        s3.put_object_retention(
            Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
        )  # fmt: skip

    def delete() -> None:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)

    def delete_with_bypass() -> None:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)

    answers = {
        "shorten": _status(shorten),
        "governance bypass": _status(to_governance_with_bypass),
        "delete": _status(delete),
        "delete with bypass": _status(delete_with_bypass),
    }
    expected = {
        # moto even turns COMPLIANCE into GOVERNANCE, after which a bypass deletes it.
        "moto": {"shorten": 200, "governance bypass": 200, "delete": 403,
                 "delete with bypass": 200},
        "rgw": {"shorten": 403, "governance bypass": 403, "delete": 403,
                "delete with bypass": 403},
    }[store]  # fmt: skip
    assert answers == expected


def test_anonymous_reads(store: str, settings: Any, s3: Any) -> None:
    """Without credentials both refuse the object, its tags and its ACL (403) on a private
    bucket. dailies keeps every bucket private (bootstrap blocks public access on previews)
    and the edge signs its reads."""
    key, _ = stage_bytes(s3, settings, b"private")
    url = f"{settings.s3_endpoint_url}/{settings.staging_bucket}/{key}"
    answers = {
        "object": httpx.get(url).status_code,
        "tagging": httpx.get(url, params={"tagging": ""}).status_code,
        "acl": httpx.get(url, params={"acl": ""}).status_code,
    }
    assert answers == {"object": 403, "tagging": 403, "acl": 403}


def test_copy_with_lock_headers_and_a_stale_if_match(store: str, settings: Any, s3: Any) -> None:
    """CopyObject with lock headers: moto refuses it (it wants a body checksum), RGW copies
    but applies no lock and names no version; AWS applies both. A CopySourceIfMatch that
    no longer matches: neither refuses it (AWS answers 412). A wrong ChecksumSHA256 on a PUT:
    neither refuses it (AWS answers 400). So dailies copies without trusting any of these:
    it checks the ETag before copying, reads the version back with HEAD, re-asserts the
    retention and compares size and sha256 metadata (tasks/promotion.py)."""
    key, _ = stage_bytes(s3, settings, random_bytes(1024))
    dest = f"rules-{uuid.uuid4().hex}"
    until = datetime.now(UTC) + timedelta(days=1)
    source = {"Bucket": settings.staging_bucket, "Key": key}
    try:
        copied = s3.copy_object(
            Bucket=settings.masters_bucket, Key=dest, CopySource=source,
            ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
        )  # fmt: skip
        head = s3.head_object(Bucket=settings.masters_bucket, Key=dest)
        locked_copy = (bool(copied.get("VersionId")), head.get("ObjectLockMode"))
    except ClientError as exc:
        locked_copy = (False, error_code(exc))

    stale = _status(
        lambda: s3.copy_object(
            Bucket=settings.masters_bucket,
            Key=f"{dest}-stale",
            CopySource=source,
            CopySourceIfMatch='"0123456789abcdef0123456789abcdef"',
        )  # fmt: skip
    )
    wrong_checksum = _status(
        lambda: s3.put_object(
            Bucket=settings.staging_bucket,
            Key=f"{key}-sum",
            Body=b"data",
            ChecksumSHA256=base64.b64encode(hashlib.sha256(b"other").digest()).decode(),
        )  # fmt: skip
    )
    expected = {
        "moto": ((False, "MissingUploadObjectWithObjectLockHeaders"), 200, 200),
        "rgw": ((False, None), 200, 200),
    }[store]
    assert (locked_copy, stale, wrong_checksum) == expected


def test_ranged_get_reads_only_the_range(store: str, settings: Any, s3: Any) -> None:
    """The first rendition probes masters through ranged GETs (ffmpeg seeks by Range): both
    stores answer 206 with just the bytes asked for."""
    data = random_bytes(2 * MiB)
    key, _ = stage_bytes(s3, settings, data)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": settings.staging_bucket, "Key": key}, ExpiresIn=60
    )
    got = httpx.get(url, headers={"Range": "bytes=1048576-1048675"})
    assert got.status_code == 206
    assert got.content == data[1048576:1048676]
    assert got.headers["content-range"] == f"bytes 1048576-1048675/{2 * MiB}"


def test_a_preview_is_published_whole(
    store: str, settings: Any, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promote and build a small master on the store: every file the multivariant playlist and
    the media playlists name is in the previews bucket, the playlists are final (VOD +
    ENDLIST), and the row says ready. (RGW answers CopyObject without a version id: the
    promotion reads it back.)"""
    from flows.preview import build_preview
    from tests import preview_fixtures as media

    monkeypatch.setattr(settings, "x264_preset", "superfast")
    sha = media.stage_and_promote(s3, settings, media.make_small(tmp_path / "small.mp4", 1))
    result = build_preview(sha, encoder="cpu")

    assert result["status"] == "ready"
    listed = s3.list_objects_v2(Bucket=settings.previews_bucket, Prefix=f"{sha}/")
    keys = {o["Key"] for o in listed.get("Contents", [])}

    def text(key: str) -> str:
        body = s3.get_object(Bucket=settings.previews_bucket, Key=key)["Body"]
        return str(body.read().decode())

    multivariant = text(result["manifest_key"])
    playlists = [line for line in multivariant.splitlines() if line and not line.startswith("#")]
    assert playlists and {f"{sha}/preview.mp4", f"{sha}/poster.jpg"} <= keys
    for playlist in playlists:
        key = f"{sha}/{playlist}"
        body = text(key)
        assert "#EXT-X-ENDLIST" in body and "#EXT-X-PLAYLIST-TYPE:VOD" in body, key
        folder = key.rsplit("/", 1)[0]
        named = [ln for ln in body.splitlines() if ln and not ln.startswith("#")]
        named += re.findall(r'#EXT-X-MAP:URI="([^"]+)"', body)
        assert named and {f"{folder}/{n}" for n in named} <= keys, key
