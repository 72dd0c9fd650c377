"""End-state checks every fault case ends with: the master promoted once, the preview
complete (or clearly failed), nothing half-published, nothing left behind."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from dailies.clients import s3_client, session_scope
from dailies.db.models import Master, Preview
from dailies.media.playlists import parse_media_playlist
from tests.faults.procs import orphaned_ffmpeg

T = TypeVar("T")
SCRATCH_PREFIXES = ("dailies-preview-", "dailies-first-")


def wait_for(what: str, check: Callable[[], T], timeout_s: float, every_s: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(every_s)
    return found


def master_problems(settings: Any, sha: str) -> list[str]:
    """Exactly one object version and one masters row, carrying the sha; no upload left."""
    s3, bucket, problems = s3_client(settings), settings.masters_bucket, []
    listed = s3.list_object_versions(Bucket=bucket, Prefix=sha)
    versions = [v for v in listed.get("Versions", []) if v["Key"] == sha]
    markers = [m for m in listed.get("DeleteMarkers", []) if m["Key"] == sha]
    if len(versions) != 1 or markers:
        problems.append(f"{len(versions)} masters versions, {len(markers)} delete markers")
    else:
        head = s3.head_object(Bucket=bucket, Key=sha, VersionId=versions[0]["VersionId"])
        if (head.get("Metadata") or {}).get("sha256") != sha:
            problems.append(f"masters object without its sha256: {head.get('Metadata')}")
    with session_scope(settings) as session:
        rows = session.scalar(select(func.count()).select_from(Master).where(Master.sha256 == sha))
    if rows != 1:
        problems.append(f"{rows} masters rows")
    return problems + incomplete_uploads(settings, sha)


def incomplete_uploads(settings: Any, sha: str) -> list[str]:
    uploads = s3_client(settings).list_multipart_uploads(Bucket=settings.masters_bucket)
    return [
        f"incomplete multipart upload {u['UploadId'][:8]}"
        for u in uploads.get("Uploads", [])
        if u["Key"] == sha
    ]


def _text(settings: Any, key: str) -> str | None:
    s3 = s3_client(settings)
    try:
        body = s3.get_object(Bucket=settings.previews_bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return str(body.decode())


def _uris(playlist_text: str) -> list[str]:
    lines = playlist_text.splitlines()
    uris = [line for line in lines if line and not line.startswith("#")]
    return uris + [line.split('URI="')[1].split('"')[0] for line in lines if 'URI="' in line]


def published_problems(settings: Any, sha: str, final: bool) -> list[str]:
    """What a player following the multivariant playlist would miss. Mid-fault (final=False)
    a growing playlist is fine but every object it lists must be there; at the end every
    playlist must be VOD and ended."""
    multivariant = _text(settings, f"{sha}/manifest.m3u8")
    if multivariant is None:
        return ["no multivariant playlist"] if final else []
    listed = s3_client(settings).list_objects_v2(Bucket=settings.previews_bucket, Prefix=sha)
    keys = {o["Key"] for o in listed.get("Contents", [])}
    problems = []
    for uri in _uris(multivariant):
        text = _text(settings, f"{sha}/{uri}")
        if text is None:
            problems.append(f"multivariant playlist names missing {uri}")
            continue
        playlist = parse_media_playlist(text)
        if final and not (playlist.ended and playlist.playlist_type == "VOD"):
            problems.append(f"{uri} is not a finished VOD playlist")
        folder = uri.rsplit("/", 1)[0]
        wanted = [s.uri for s in playlist.segments] + [playlist.map_uri or ""]
        missing = sorted({f"{sha}/{folder}/{u}" for u in wanted if u} - keys)
        problems += [f"{uri} names missing {m}" for m in missing]
    return problems


def preview_problems(settings: Any, sha: str) -> list[str]:
    """The row ready, and everything it and the multivariant playlist name is in the bucket."""
    with session_scope(settings) as session:
        row = session.get(Preview, sha)
        if row is None or row.status != "ready":
            status = None if row is None else (row.status, row.error)
            return [f"preview not ready: {status}"]
        named = [row.manifest_key or f"{sha}/manifest.m3u8"]
    named += [f"{sha}/preview.mp4", f"{sha}/poster.jpg"]
    missing = [k for k in named if _text_exists(settings, k) is False]
    return [f"missing {k}" for k in missing] + published_problems(settings, sha, final=True)


def _text_exists(settings: Any, key: str) -> bool:
    s3 = s3_client(settings)
    listed = s3.list_objects_v2(Bucket=settings.previews_bucket, Prefix=key, MaxKeys=1)
    return any(o["Key"] == key for o in listed.get("Contents", []))


def leftovers(scratch: Path, settings: Any, sha: str) -> list[str]:
    """Scratch folders of killed builds and their ffmpeg, incomplete masters uploads."""
    left = [
        f"scratch {p.name}"
        for prefix in SCRATCH_PREFIXES
        for p in (scratch.glob(f"{prefix}*") if scratch.is_dir() else [])
    ]
    left += [f"ffmpeg pid {pid}" for pid in orphaned_ffmpeg(str(scratch))]
    return left + incomplete_uploads(settings, sha)
