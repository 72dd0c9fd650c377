"""What every ffmpeg job shares: the output layout names and how an argv is finished."""

from __future__ import annotations

from typing import Any

# The HLS output layout, also read by outputs, live publishing and the preview tasks.
AUDIO_NAME = "audio"
AUDIO_GROUP = "aud"
PLAYLIST_NAME = "index.m3u8"


def segment_prefix(ladder_version: str) -> str:
    """Segment names carry the ladder version: they are cached as immutable forever."""
    return f"v{ladder_version}"


def progress_args() -> list[str]:
    """Machine-readable progress on stdout; errors only on stderr (kept for the message)."""
    return ["-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]


def finish_args(stream: Any, ffmpeg_bin: str) -> list[str]:
    """argv with global options first, where a reader of `ps` output looks for them."""
    args = list(stream.compile(cmd=ffmpeg_bin))
    return [args[0], *progress_args(), "-y", *args[1:]]


# What ffmpeg/ffprobe may open while reading a master. A container can point elsewhere (an
# HLS or concat playlist naming other files or URLs, a reference movie): only the protocol
# the master is actually read with is allowed, so a crafted master reads nothing else.
LOCAL_PROTOCOLS = "file"
URL_PROTOCOLS = "file,http,https,tcp,tls,crypto"


def input_protocols(source: str) -> str:
    """The whitelist for reading `source`: a presigned URL or a scratch file."""
    return URL_PROTOCOLS if source.startswith(("http://", "https://")) else LOCAL_PROTOCOLS
