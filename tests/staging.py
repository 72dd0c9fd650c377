"""Put test bytes where an editor's upload would land."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any


def stage_bytes(s3: Any, settings: Any, data: bytes, name: str = "clip.mov") -> tuple[str, str]:
    key = f"uploads/{uuid.uuid4()}/{name}"
    s3.put_object(Bucket=settings.staging_bucket, Key=key, Body=data)
    return key, hashlib.sha256(data).hexdigest()


def random_bytes(size: int) -> bytes:
    return os.urandom(size)


def unreadable_bytes(size: int) -> bytes:
    """Bytes no ffprobe demuxer takes for media, unique per call: random bytes are sometimes
    read as raw H.263 or MP3 (a soak run's ffprobe found an H.263 stream in 256 KiB of them)."""
    line = f"dailies test master {uuid.uuid4()} is not a video\n".encode()
    return (line * (size // len(line) + 1))[:size]
