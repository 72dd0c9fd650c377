"""Where preview files go in the previews bucket and with which HTTP headers (pure: the
API, the edge tests and the builds all name keys from here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

IMMUTABLE = "public, max-age=31536000, immutable"
# Half a target duration: the edge refetches a growing playlist about as often as players do.
BUILDING_PLAYLIST = "public, max-age=2"
# A finished playlist changes only when the ladder version is bumped and it is rebuilt.
FINAL_PLAYLIST = "public, max-age=300"

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt",
    ".json": "application/json",
}

MULTIVARIANT_NAME = "manifest.m3u8"
MP4_NAME = "preview.mp4"
POSTER_NAME = "poster.jpg"
STORYBOARD_VTT = "storyboard.vtt"
# The master's start timecode and frame rate, for the review page (dailies.timecode).
TIMING_NAME = "timing.json"


@dataclass(frozen=True)
class UploadSpec:
    key: str
    content_type: str
    cache_control: str


def multivariant_key(sha256: str) -> str:
    return f"{sha256}/{MULTIVARIANT_NAME}"


def timing_key(sha256: str) -> str:
    return f"{sha256}/{TIMING_NAME}"


def rendition_key(sha256: str, rendition: str, name: str) -> str:
    return f"{sha256}/{rendition}/{name}"


def storyboard_sprite_name(ladder_version: str) -> str:
    return f"storyboard-v{ladder_version}.jpg"


def content_type_for(name: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


def cache_control_for(name: str, *, final: bool) -> str:
    """Playlists are short-lived while building; everything else never changes once written."""
    # timing.json too: the first rendition writes it, the finished ladder rewrites it.
    if name.endswith((".m3u8", ".json")):
        return FINAL_PLAYLIST if final else BUILDING_PLAYLIST
    return IMMUTABLE


def upload_spec(key: str, *, final: bool = True) -> UploadSpec:
    return UploadSpec(key, content_type_for(key), cache_control_for(key, final=final))
