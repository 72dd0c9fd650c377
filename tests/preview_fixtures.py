"""Generated masters for preview tests (ffmpeg lavfi sources: short, fast presets), and a
helper to stage + promote one, as an editor's upload would arrive."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

FFMPEG = "ffmpeg"
FAST = ["-c:v", "libx264", "-preset", "ultrafast"]


def _run(args: list[str]) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        check=True,
        timeout=120,
    )


def _video(size: str, seconds: float, rate: str = "30") -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]


def _audio(seconds: float, layout: str = "stereo") -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}:r=48000,aformat=channel_layouts={layout}"]


def make_h264_aac_1080p(path: Path, seconds: float = 3) -> Path:
    _run([*_video("1920x1080", seconds), *_audio(seconds), *FAST, "-pix_fmt", "yuv420p",
          "-c:a", "aac", "-b:a", "128k", "-shortest", str(path)])  # fmt: skip
    return path


def make_portrait_rotated(path: Path, seconds: float = 2) -> Path:
    """Stored landscape 640x360 with a 90° display matrix: phones record portrait this way."""
    plain = path.with_suffix(".plain.mp4")
    _run([*_video("640x360", seconds), *_audio(seconds), *FAST, "-pix_fmt", "yuv420p",
          "-c:a", "aac", "-shortest", str(plain)])  # fmt: skip
    # ffmpeg 5.1 writes the display matrix from the rotate tag only when stream-copying.
    _run(["-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(path)])
    plain.unlink()
    return path


def make_no_audio(path: Path, seconds: float = 2) -> Path:
    """MPEG-4 part 2 in Matroska with odd dimensions: not browser-friendly, so no stream copy."""
    _run([*_video("853x479", seconds, rate="25"), "-c:v", "mpeg4", "-q:v", "5", str(path)])
    return path


def make_ten_bit_hdr(path: Path, seconds: float = 2) -> Path:
    """10-bit PQ (HDR10-tagged) video with 5.1 audio: tone-map to SDR, downmix to stereo."""
    _run([*_video("1280x720", seconds), *_audio(seconds, "5.1"), *FAST,
          "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020", "-color_trc", "smpte2084",
          "-colorspace", "bt2020nc", "-c:a", "aac", "-shortest", str(path)])  # fmt: skip
    return path


def make_audio_only(path: Path, seconds: float = 2) -> Path:
    _run([*_audio(seconds), "-c:a", "aac", str(path)])
    return path


def make_corrupt(path: Path) -> Path:
    """Bytes that look like nothing ffmpeg knows (a deterministic pseudo-random blob)."""
    blob = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(4096))
    path.write_bytes(b"NOT A VIDEO\x00" + blob)
    return path


def stage_and_promote(s3: Any, settings: Any, path: Path) -> str:
    """Upload to staging as an editor would, promote, return the sha256."""
    from flows.promote import promote_master

    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    key = f"uploads/{uuid.uuid4()}/{path.name}"
    s3.put_object(Bucket=settings.staging_bucket, Key=key, Body=data)
    promote_master(key, sha)
    return sha


def ffprobe_json(source: str, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", *extra, source],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(done.stdout))


def keyframe_times(source: str) -> list[float]:
    data = ffprobe_json(
        source, "-select_streams", "v:0", "-skip_frame", "nokey",
        "-show_entries", "frame=pts_time",
    )  # fmt: skip
    return [round(float(f["pts_time"]), 3) for f in data.get("frames", [])]
