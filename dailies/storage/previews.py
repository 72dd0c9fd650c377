"""The previews bucket (and the master a build reads): preview files out with the right
Content-Type and Cache-Control. The rules for keys and headers are in dailies.previews.layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from dailies.handoffs import CopiedMaster, MasterRecord
from dailies.previews.layout import timing_key, upload_spec
from dailies.settings import MiB, Settings
from dailies.storage.objects import error_code, head, is_missing

_TRANSFER = TransferConfig(multipart_threshold=64 * MiB, multipart_chunksize=64 * MiB)


def upload_preview_file(s3: Any, settings: Settings, path: Path, key: str, final: bool) -> None:
    spec = upload_spec(key, final=final)
    s3.upload_file(
        str(path),
        settings.previews_bucket,
        key,
        ExtraArgs={"ContentType": spec.content_type, "CacheControl": spec.cache_control},
        Config=_TRANSFER,
    )


def upload_preview_text(s3: Any, settings: Settings, key: str, text: str, final: bool) -> None:
    spec = upload_spec(key, final=final)
    s3.put_object(
        Bucket=settings.previews_bucket,
        Key=key,
        Body=text.encode(),
        ContentType=spec.content_type,
        CacheControl=spec.cache_control,
    )


def upload_timing(
    s3: Any, settings: Settings, sha256: str, timing: dict[str, Any], final: bool = True
) -> str:
    """{sha}/timing.json: the master's start timecode and frame rate for the review page.
    The first rendition writes it early (not final: short-lived in caches); the finished
    ladder rewrites it with where each rendition's first picture sits."""
    key = timing_key(sha256)
    upload_preview_text(s3, settings, key, json.dumps(timing, sort_keys=True), final=final)
    return key


def upload_preview_text_if_absent(s3: Any, settings: Settings, key: str, text: str) -> bool:
    """Write a (non-final) object only where none exists (If-None-Match: *): the first
    rendition's multivariant playlist must never replace one the full ladder already published.
    False when the key was taken."""
    return upload_preview_bytes_if_absent(s3, settings, key, text.encode(), final=False)


def upload_preview_bytes_if_absent(
    s3: Any, settings: Settings, key: str, body: bytes, final: bool
) -> bool:
    """Write a small object only where none exists (If-None-Match: *); False when the key was
    taken. Also what keeps a final object (cached for good at the edge) from changing."""
    spec = upload_spec(key, final=final)
    try:
        s3.put_object(
            Bucket=settings.previews_bucket,
            Key=key,
            Body=body,
            ContentType=spec.content_type,
            CacheControl=spec.cache_control,
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if error_code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
            return False
        raise
    return True


def preview_exists(s3: Any, settings: Settings, key: str) -> bool:
    return head(s3, settings.previews_bucket, key) is not None


def read_preview_text(s3: Any, settings: Settings, key: str) -> str | None:
    """A (small) text object of the previews bucket, or None where there is none."""
    try:
        body = s3.get_object(Bucket=settings.previews_bucket, Key=key)["Body"]
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    return str(body.read().decode())


def download_master(s3: Any, settings: Settings, master: MasterRecord, dest: Path) -> Path:
    """Parallel ranged GETs of the exact version promoted (masters are versioned)."""
    extra = {"VersionId": master.version_id} if master.version_id else None
    s3.download_file(
        settings.masters_bucket,
        master.masters_key,
        str(dest),
        ExtraArgs=extra,
        Config=TransferConfig(max_concurrency=16, multipart_chunksize=64 * MiB),
    )
    return dest


def presigned_master_url(
    s3: Any, settings: Settings, master: MasterRecord | CopiedMaster, expires_s: int = 6 * 3600
) -> str:
    params = {"Bucket": settings.masters_bucket, "Key": master.masters_key}
    if master.version_id:
        params["VersionId"] = master.version_id
    return str(s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s))
