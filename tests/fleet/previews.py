"""The previews bucket as the fleet test reads it from outside the hosts: when a ladder's
first segment is out, and whether a published preview names only objects that exist."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from dailies.media.playlists import parse_media_playlist
from dailies.previews.layout import multivariant_key, rendition_key
from ops.demo_client import media_playlists
from tests.fleet.fleet import Fleet

BUCKET = "previews"  # the settings' default, which the fleet keeps
FIRST_RENDITION = "first"


def s3_client(fleet: Fleet) -> Any:
    return boto3.client(
        "s3", endpoint_url=f"http://{fleet.address('s3')}:5000", region_name="us-east-1",
        aws_access_key_id=fleet.values["s3_key"], aws_secret_access_key=fleet.values["s3_secret"],
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
    )  # fmt: skip


def ladder_segment_out(s3: Any, sha: str) -> bool:
    """Whether the ladder has published a media segment (the first rendition's are under
    first/, which is not the ladder's)."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{sha}/")
    return any(
        item["Key"].endswith(".m4s") and item["Key"].split("/")[1] != FIRST_RENDITION
        for item in listed.get("Contents", [])
    )


def _text(s3: Any, key: str) -> str | None:
    try:
        return str(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())
    except s3.exceptions.NoSuchKey:
        return None


def _exists(s3: Any, key: str) -> bool:
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
    except s3.exceptions.ClientError:
        return False
    return True


def unpublished(s3: Any, sha: str) -> list[str]:
    """Every key the published preview names that the bucket lacks: the multivariant
    playlist, each media playlist it names (every variant, every audio rendition), their
    init segments and segments; and a media playlist not ended (a half-published ladder)."""
    text = _text(s3, multivariant_key(sha))
    if text is None:
        return [multivariant_key(sha)]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    uris = {line for line in lines if not line.startswith("#")} | set(media_playlists(text))
    missing: list[str] = []
    for uri in sorted(uris):
        rendition, name = uri.split("/", 1)
        media = _text(s3, rendition_key(sha, rendition, name))
        if media is None:
            missing.append(rendition_key(sha, rendition, name))
            continue
        playlist = parse_media_playlist(media)
        if not playlist.ended:
            missing.append(f"{rendition_key(sha, rendition, name)} (no EXT-X-ENDLIST)")
        named = [s.uri for s in playlist.segments] + [playlist.map_uri or ""]
        missing += [rendition_key(sha, rendition, n) for n in named
                    if n and not _exists(s3, rendition_key(sha, rendition, n))]  # fmt: skip
    return missing
