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
    # A tag of its own in every generated master: two tests that make "the same" clip must
    # not share a sha256 (and so a master, a preview and a cache entry) by accident.
    *head, output = args
    unique = ["-metadata", f"comment=dailies-test-{uuid.uuid4().hex}"]
    if not output.startswith("-") and Path(output).suffix in MEDIA_SUFFIXES:
        args = [*head, *unique, output]
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        check=True,
        timeout=120,
    )


MEDIA_SUFFIXES = {".mp4", ".mov", ".mkv", ".mxf", ".ts", ".m4v"}


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


def make_small(path: Path, seconds: float = 2) -> Path:
    """640x360 H.264/AAC: the cheapest master that still gets video, audio and a storyboard."""
    _run([*_video("640x360", seconds), *_audio(seconds), *FAST, "-pix_fmt", "yuv420p",
          "-c:a", "aac", "-shortest", str(path)])  # fmt: skip
    return path


def make_misstated_duration(path: Path, seconds: float = 3, claims: int = 20) -> Path:
    """An MP4 whose movie header (mvhd) claims `claims` times its real length, as a muxer
    that died before finalising, or a bad edit, leaves it: ffprobe reports the claim."""
    make_small(path, seconds)
    data = bytearray(path.read_bytes())
    at = data.index(b"mvhd") + 4
    version = data[at]
    # version 0: 4-byte creation, modification, timescale, duration; version 1: 8, 8, 4, 8.
    offset, size = (at + 16, 4) if version == 0 else (at + 24, 8)
    real = int.from_bytes(data[offset : offset + size], "big")
    data[offset : offset + size] = (real * claims).to_bytes(size, "big")
    path.write_bytes(bytes(data))
    return path


def make_late_keyframe(path: Path, seconds: float = 6, cut_s: float = 1) -> Path:
    """MPEG-TS cut mid-GOP: its first frames reference a keyframe that is not there, so the
    first decodable picture comes seconds in (a recording joined late, a bad cut)."""
    whole = path.with_suffix(".whole.mp4")
    _run([*_video("640x360", seconds), *_audio(seconds), *FAST, "-g", "150",
          "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(whole)])  # fmt: skip
    _run(["-i", str(whole), "-ss", str(cut_s), "-c", "copy", "-copyinkf", "-f", "mpegts",
          str(path)])  # fmt: skip
    whole.unlink()
    return path


def make_variable_rate(path: Path, seconds: float = 2) -> Path:
    """H.264/AAC whose frames come at uneven intervals, as a phone records: 30 fps ticks with
    4 of every 10 frames dropped (ffprobe: r_frame_rate 30, avg_frame_rate 18)."""
    _run([*_video("320x240", seconds), *_audio(seconds),
          "-vf", "select='not(between(mod(n,10),3,6))'", "-fps_mode", "vfr", *FAST,
          "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)])  # fmt: skip
    return path


def make_interlaced(path: Path, seconds: float = 2) -> Path:
    """25i H.264 (top field first, field-coded), as broadcast and many cameras record: two
    50 Hz pictures woven into each frame. The picture is a white bar crossing black at
    400 px/s, so a frame shown without deinterlacing combs at the bar's edges (see
    `comb_level`); testsrc2's fine patterns read as combed even when progressive."""
    bar = (f"color=c=black:s=320x240:r=50:d={seconds}[bg];"
           f"color=c=white:s=40x240:r=50:d={seconds}[bar];"
           "[bg][bar]overlay=x='mod(t*400,280)':y=0:shortest=1")  # fmt: skip
    _run(["-f", "lavfi", "-i", bar, *_audio(seconds),
          "-vf", "tinterlace=interleave_top,fieldorder=tff", *FAST, "-flags", "+ildct+ilme",
          "-x264-params", "tff=1", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
          str(path)])  # fmt: skip
    return path


def decode_errors(source: str) -> tuple[int, str]:
    """Decode every packet of every stream: (exit status, error lines); (0, "") is clean."""
    done = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", source, "-map", "0", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode, done.stderr


def comb_level(source: str, width: int, height: int, frames: int = 10) -> float:
    """Mean luma step between neighbouring rows over the first frames of `source`: about 12
    for `make_interlaced`'s bar woven from two fields, about 0 once deinterlaced (its only
    edges are vertical, so rows agree)."""
    done = subprocess.run(
        [FFMPEG, "-v", "error", "-i", source, "-frames:v", str(frames), "-f", "rawvideo",
         "-pix_fmt", "gray", "-"],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    size = width * height
    pictures = [done.stdout[i : i + size] for i in range(0, len(done.stdout) - size + 1, size)]
    assert pictures, f"no frames decoded from {source}"
    steps = (sum(abs(a - b) for a, b in zip(p[:-width], p[width:], strict=True)) for p in pictures)
    return sum(steps) / (len(pictures) * width * (height - 1))


def make_dnxhd(path: Path, seconds: float = 1) -> Path:
    """DNxHD 720p25 at 90 Mbit/s, 4:2:2, PCM in MOV: an Avid editor's master (the classic
    DNxHD profiles exist only at 720p and 1080p sizes)."""
    _run([*_video("1280x720", seconds, rate="25"), *_audio(seconds), "-c:v", "dnxhd",
          "-b:v", "90M", "-pix_fmt", "yuv422p", "-c:a", "pcm_s16le", "-shortest",
          str(path)])  # fmt: skip
    return path


def make_ten_bit_h264(path: Path, seconds: float = 2) -> Path:
    """H.264 High 10 (yuv420p10le), SDR: valid H.264 that browsers do not decode."""
    _run([*_video("320x240", seconds, rate="25"), *_audio(seconds), *FAST,
          "-pix_fmt", "yuv420p10le", "-c:a", "aac", "-shortest", str(path)])  # fmt: skip
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


def make_prores_hq(path: Path, seconds: float = 2, size: str = "1280x720") -> Path:
    """ProRes 422 HQ, 10-bit 4:2:2, 24-bit PCM in MOV: an editor's master, not browser-ready.
    `prores` (not prores_ks) writes the same profile several times faster."""
    _run([*_video(size, seconds, rate="24"), *_audio(seconds), "-c:v", "prores",
          "-profile:v", "3", "-pix_fmt", "yuv422p10le", "-c:a", "pcm_s24le", "-shortest",
          str(path)])  # fmt: skip
    return path


def make_h264_moov_at_end(path: Path, seconds: float = 3, size: str = "1280x720") -> Path:
    """Browser-ready H.264/AAC whose index (moov) follows the media: no `+faststart`, as a
    camera or an NLE export without "optimise for web" writes it."""
    _run([*_video(size, seconds), *_audio(seconds), *FAST, "-pix_fmt", "yuv420p",
          "-c:a", "aac", "-shortest", str(path)])  # fmt: skip
    return path


def top_level_boxes(path: Path) -> list[tuple[str, int]]:
    """(type, size) of each top-level ISO BMFF box, in file order."""
    boxes, offset = [], 0
    with path.open("rb") as f:
        while len(header := f.read(8)) == 8:
            size, kind = int.from_bytes(header[:4], "big"), header[4:8].decode("latin-1")
            if size == 1:  # a 64-bit size follows the type
                size = int.from_bytes(f.read(8), "big")
            boxes.append((kind, size))
            offset += size
            f.seek(offset)
    return boxes


def pad_before_moov(path: Path, pad_bytes: int) -> Path:
    """Insert a `free` box of `pad_bytes` between the media and a trailing moov (sample
    offsets point before it, so they stay valid): a large object whose playable bytes are
    few, read in full only by a reader that downloads it."""
    boxes = top_level_boxes(path)
    assert boxes[-1][0] == "moov", boxes
    moov = path.stat().st_size - boxes[-1][1]
    data = path.read_bytes()
    with path.open("wb") as f:
        f.write(data[:moov])
        f.write((pad_bytes + 8).to_bytes(4, "big") + b"free")
        f.write(bytes(pad_bytes))
        f.write(data[moov:])
    return path
