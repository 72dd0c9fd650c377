"""Generated sample masters (ffmpeg's lavfi sources) for the demo and the benchmarks."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path


def sample_master_args(
    out: Path,
    seconds: float = 8,
    size: str = "1920x1080",
    tag: str = "",
    ffmpeg_bin: str = "ffmpeg",
) -> list[str]:
    """A 1080p H.264 + AAC clip with a moving test pattern and a tone.

    `tag` goes into the container's metadata: a different tag is a different master (sha256),
    so each run exercises the whole path instead of finding last run's preview.
    """
    return [
        ffmpeg_bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d={seconds}",
        "-f", "lavfi", "-i", f"sine=f=440:d={seconds}:r=48000",
        # ultrafast: generating the sample should not cost more than encoding its preview.
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "60",
        "-c:a", "aac", "-b:a", "128k", "-shortest",
        "-metadata", f"comment=dailies sample {tag}", "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def make_sample_master(
    directory: Path, seconds: float = 8, size: str = "1920x1080", ffmpeg_bin: str = "ffmpeg"
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:12]
    out = directory / f"sample-{tag}.mp4"
    subprocess.run(
        sample_master_args(out, seconds, size, tag, ffmpeg_bin),
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return out
