"""Preview build speed: (1) the flow's full-ladder wall time against bare ffmpeg making the
same ladder from a local file, in the same run (the ratio is our overhead: download, probe,
live publishing, MP4/poster/storyboard, bookkeeping); (2) time from flow start until a player
could start: the multivariant playlist, its first variant's playlist and that playlist's first segment
are all in the bucket.

Brings up its own stack (moto S3 server, a Prefect server, SQLite, in-process locks), makes
masters with ffmpeg's lavfi sources, promotes them and builds their previews. Two masters: a
browser-friendly H.264/AAC one (published first as a stream copy) and an MPEG-4 part 2 one
(must wait for the first encoded segments). Writes its section of bench/RESULTS.md.

    uv run python bench/preview.py [--seconds 10] [--size 1920x1080] [--preset veryfast]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results import write_section  # noqa: E402
from stack import bench_stack  # noqa: E402

MASTERS = {
    # name: (video codec args, audio args): one stream-copyable, one that is not
    "h264-aac": (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
                 ["-c:a", "aac"]),
    "mpeg4-pcm": (["-c:v", "mpeg4", "-q:v", "4"], ["-c:a", "pcm_s16le"]),
}  # fmt: skip


def make_master(path: Path, size: str, seconds: float, video: list[str], audio: list[str]) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=440:d={seconds}:r=48000",
         *video, *audio, "-shortest", str(path)],
        check=True,
    )  # fmt: skip


class FirstPlayable:
    """Polls the bucket the way a player would start: multivariant playlist → first variant → segment."""

    def __init__(self, s3: Any, bucket: str, sha: str) -> None:
        self.s3, self.bucket, self.sha = s3, bucket, sha
        self.at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _get(self, key: str) -> str | None:
        try:
            return str(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode())
        except self.s3.exceptions.NoSuchKey:
            return None

    def _playable(self) -> bool:
        from dailies.media.playlists import parse_media_playlist

        multivariant = self._get(f"{self.sha}/manifest.m3u8")
        if multivariant is None:
            return False
        uris = [line for line in multivariant.splitlines() if line and not line.startswith("#")]
        rendition = uris[0].rsplit("/", 1)[0]
        text = self._get(f"{self.sha}/{uris[0]}")
        if text is None:
            return False
        playlist = parse_media_playlist(text)
        if not playlist.segments:
            return False
        first = f"{self.sha}/{rendition}/{playlist.segments[0].uri}"
        return self.s3.head_object(Bucket=self.bucket, Key=first) is not None

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._playable():
                self.at = time.monotonic() - self.started
                return
            time.sleep(0.05)


def bare_ladder_s(master: Path, preset: str, work: Path) -> float:
    """The same single-process ladder command, local file in, local files out, nothing else."""
    from dailies.media.commands.ladder import EncodeSettings, build_ladder_args
    from dailies.media.commands.probe import ffprobe_args
    from dailies.media.ladder import LADDER_VERSION, plan_ladder
    from dailies.media.probe import parse_probe
    from dailies.media.runner import run_ffmpeg, run_ffprobe

    probe = parse_probe(run_ffprobe(ffprobe_args("ffprobe", str(master))))
    plan = plan_ladder(probe)
    out = work / "bare"
    shutil.rmtree(out, ignore_errors=True)
    names = [r.name for r in plan.rungs] + (["audio"] if plan.has_audio else [])
    for name in names:
        (out / name).mkdir(parents=True)
    args = build_ladder_args(str(master), out, probe, plan, EncodeSettings("libx264", preset),
                             LADDER_VERSION)  # fmt: skip
    started = time.monotonic()
    run_ffmpeg(args, "bare ladder", plan.duration_s)
    return time.monotonic() - started


def run_bench(seconds: float, size: str, preset: str, work: Path) -> list[dict[str, Any]]:
    from dailies.clients import s3_client
    from dailies.settings import get_settings
    from flows.preview import build_preview
    from flows.promote import promote_master
    from ops.bootstrap import bootstrap

    settings = get_settings()
    bootstrap(settings)
    s3 = s3_client(settings)
    rows = []
    for name, (video, audio) in MASTERS.items():
        master = work / f"{name}.mkv"
        make_master(master, size, seconds, video, audio)
        data = master.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        key = f"uploads/{uuid.uuid4()}/{master.name}"
        s3.put_object(Bucket=settings.staging_bucket, Key=key, Body=data)
        promote_master(key, sha)

        bare_s = bare_ladder_s(master, preset, work)
        watcher = FirstPlayable(s3, settings.previews_bucket, sha)
        watcher.start()
        started = time.monotonic()
        result = build_preview(sha, "cpu")
        flow_s = time.monotonic() - started
        watcher.stop()
        rows.append(
            {
                "master": name,
                "renditions": ", ".join(r["name"] for r in result["renditions"]),
                "bare_s": bare_s,
                "flow_s": flow_s,
                "first_playable_s": watcher.at,
            }
        )
        print(rows[-1], flush=True)
    return rows


def report(rows: list[dict[str, Any]], seconds: float, size: str, preset: str) -> str:
    lines = [
        f"_{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, libx264 preset `{preset}`, {seconds:g} s {size} 30 fps "
        "lavfi masters with audio; `uv run python bench/preview.py`_",
        "",
        "| master | renditions | bare ffmpeg ladder (s) | build_preview flow (s) | "
        "flow / bare | first playable (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        first = f"{row['first_playable_s']:.2f}" if row["first_playable_s"] is not None else "—"
        lines.append(
            f"| {row['master']} | {row['renditions']} | {row['bare_s']:.2f} | "
            f"{row['flow_s']:.2f} | {row['flow_s'] / row['bare_s']:.2f}× | {first} |"
        )
    lines += [
        "",
        "Flow time includes promotion-free work only: master download to scratch, ffprobe, the "
        "one-process ladder with live segment uploads, MP4 remux, poster, storyboard, final "
        "playlists and the previews row. First playable = from flow start until the multivariant playlist, "
        "its first variant playlist and that playlist's first segment are all in the bucket "
        "(the h264-aac master is published as a stream copy first; mpeg4-pcm waits for the "
        "first encoded segment of every rendition)."
        " One run each; on a shared machine the ratio moves with the neighbours’ load, "
        "so compare runs on an idle worker.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--preset", default="veryfast", help="libx264 preset for both sides")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    args = parser.parse_args()

    with bench_stack("preview", {"DAILIES_X264_PRESET": args.preset}) as run_dir:
        rows = run_bench(args.seconds, args.size, args.preset, run_dir)
    text = report(rows, args.seconds, args.size, args.preset)
    print(text)
    if not args.no_write:
        write_section("preview: ladder build and first play", text)


if __name__ == "__main__":
    main()
