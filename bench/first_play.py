"""First play as a reviewer sees it: headless Chromium opens `/watch/{sha}#token=…` on the
edge for a master that has never been built, and the clock runs from navigation start to
the <video>'s first `playing` event, with the player's real defaults (404 → long-polling
POST /api/preview → hls.js). p50 of N runs per case, each run a master never built before.

Each case runs through the fast path (a running `dailies task-worker` publishes a first
rendition) and the old path (`DAILIES_PREVIEW_FIRST_RENDITION=false`: the `build-preview`
deployment alone), on two stacks one after the other in the same bench run.

  a  H.264/AAC 1080p 6 s (browser-ready: remuxed)
  b  ProRes 422 HQ 10-bit 1080p + PCM, 6 s .mov (encoded: libx264 ultrafast 540p)
  c  2 GiB H.264/AAC 1080p ~250 Mbit/s .mp4, moov at the end (encoded over ranged reads:
     above 25 Mbit/s a remux's first GOP is too big to be a fast start)
  d  2 GiB H.264/AAC 1080p at case a's bitrate (an 18-minute take), moov at the end: the
     size alone, remuxed over ranged reads (c adds a 16x bitrate, whose decode costs time)
  e  ProRes 422 HQ 10-bit UHD (3840x2160) 29.97 + PCM, 6 s .mov: a camera master at 4K, where
     decoding each frame (four times b's pixels) is the first rendition's cost

Untimed, before each run: a never-built variant of the case's base master (a stream copy
with a new metadata tag), uploaded through presigned multipart and promoted through the API.
After each run the first rendition is left to finish and the ladder run is cancelled, so
that runs do not compete for the two cores.

Case c on the embedded moto S3 measures mostly moto: moto reads the whole object for every
GET, ranged or not (moto's FakeKey.value), so each seek of ffmpeg over a 2 GiB master costs
seconds (and a 2 GiB buffer in moto's memory). `--store rgw` runs every stack on a throw-away
Ceph RGW with its OSD on disk (`dailies up --store rgw`), a real S3 that serves ranges.

    uv run python bench/first_play.py [--runs 5] [--cases a,b,c] [--store moto|rgw]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORK = ROOT / "bench" / ".work" / "first_play"
HOMES = {
    "new": Path("/tmp/bench-home-first-play-new"),
    "old": Path("/tmp/bench-home-first-play-old"),
}
EMBEDDED = ("AWS_ENDPOINT_URL_S3", "PREFECT_API_URL", "DAILIES_DATABASE_URL", "DAILIES_REDIS_URL",
            "DAILIES_EDGE_CACHE_DIR", "DAILIES_EDGE_URL", "DAILIES_PREVIEW_FIRST_RENDITION")  # fmt: skip
GIB = 1024**3
FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
# Page-side instrumentation only: a capturing listener sees the <video>'s first `playing`
# (media events do not bubble, capture still reaches document) without touching the player.
INIT_SCRIPT = """
window.__bench = { playing: null };
document.addEventListener('playing', () => {
  if (window.__bench.playing === null) window.__bench.playing = performance.now();
}, true);
"""
COLLECT = """() => ({
  origin: performance.timeOrigin,
  playing: window.__bench.playing,
  trace: { phase: window.dailiesPlayer.phase, error: window.dailiesPlayer.error,
           events: window.dailiesPlayer.events, posterAt: window.dailiesPlayer.posterAt },
  resources: performance.getEntriesByType('resource').map(e => ({
    name: e.name, start: e.startTime, end: e.responseEnd, status: e.responseStatus,
    bytes: e.transferSize || e.encodedBodySize })),
})"""
# Debian's Chromium with the flags tests/e2e/conftest.py uses (autoplay without a gesture:
# headless has no user to click play).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic",
                 "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
STAGES = ["404 seen", "POST answered (playable)", "manifest loaded (hls.js)", "first playing"]


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    suffix: str
    target_s: float
    faststart: bool


CASES = {
    "a": Case("a", "H.264/AAC 1080p 6 s (remux)", ".mp4", 2.0, True),
    "b": Case("b", "ProRes 422 HQ 10-bit 1080p + PCM 6 s (540p encode)", ".mov", 3.0, False),
    "c": Case("c", "2 GiB H.264/AAC 1080p ~250 Mbit/s, moov at end (540p encode: above 25 Mbit/s)", ".mp4", 2.0, False),
    "d": Case("d", "2 GiB H.264/AAC 1080p at (a)'s bitrate, moov at end (remux)", ".mp4", 2.0, False),
    "e": Case("e", "ProRes 422 HQ 10-bit UHD 29.97 + PCM 6 s (540p encode)", ".mov", 3.0, False),
}  # fmt: skip


# ---- masters (untimed) ----
def _run(args: list[str], timeout_s: float = 600) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=timeout_s)


def base_master(case: Case) -> Path:
    """The case's base master, made once and kept under bench/.work between bench runs."""
    from ops.samples import sample_master_args

    out = WORK / f"base-{case.key}{case.suffix}"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    partial = out.with_name("partial-" + out.name)
    tone = ["-f", "lavfi", "-i", "sine=f=440:d={d}:r=48000"]
    if case.key == "a":
        _run(sample_master_args(partial, seconds=6, tag="bench-base"))
    elif case.key in ("b", "e"):
        picture = "s=1920x1080:r=25" if case.key == "b" else "s=3840x2160:r=30000/1001"
        _run([*FFMPEG, "-f", "lavfi", "-i", f"testsrc2={picture}:d=6",
              *[t.format(d=6) for t in tone], "-c:v", "prores_ks", "-profile:v", "3",
              "-pix_fmt", "yuv422p10le", "-c:a", "pcm_s16le", "-ac", "2", str(partial)],
             timeout_s=1800)  # fmt: skip
    elif case.key == "d":
        # (a)'s master repeated by a stream copy to past 2 GiB: the same bitrate, so only
        # the size (and a moov at the end, some MB of sample tables) differs from (a).
        _concat(base_master(CASES["a"]), partial)
    else:
        # 10 s at ~250 Mbit/s (noise defeats the encoder), then repeated by a stream copy to
        # past 2 GiB; no faststart, so ffmpeg must seek to the end for the moov over HTTP.
        chunk = WORK / "chunk-c.mp4"
        _run([*FFMPEG, "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=10,noise=alls=30:allf=t+u",
              *[t.format(d=10) for t in tone], "-c:v", "libx264", "-preset", "ultrafast",
              "-b:v", "250M", "-maxrate", "250M", "-bufsize", "250M", "-g", "60",
              "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2", str(chunk)])  # fmt: skip
        _concat(chunk, partial)
        chunk.unlink()
    partial.rename(out)
    return out


def _concat(chunk: Path, out: Path) -> None:
    """`chunk` stream-copied end to end until past 2 GiB, without faststart: ffmpeg must
    seek to the end for the moov over HTTP."""
    copies = -(-2 * GIB // chunk.stat().st_size)  # ceil
    listing = WORK / f"concat-{out.stem}.txt"
    listing.write_text(f"file '{chunk}'\n" * copies)
    _run([*FFMPEG, "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
          str(out)])  # fmt: skip
    listing.unlink()
    assert out.stat().st_size >= 2 * GIB, out.stat().st_size


def fresh_master(case: Case, base: Path) -> Path:
    """A never-built master: the base stream-copied with a new metadata tag (a new sha)."""
    tag = uuid.uuid4().hex[:12]
    out = WORK / f"run-{case.key}-{tag}{case.suffix}"
    movflags = ["-movflags", "+faststart"] if case.faststart else []
    _run([*FFMPEG, "-i", str(base), "-map", "0", "-c", "copy",
          "-metadata", f"comment=dailies bench {tag}", *movflags, str(out)])  # fmt: skip
    return out


# ---- one stack ----
@dataclass
class Ctx:
    stack: Any
    api: httpx.Client
    prefect: httpx.Client
    keys: dict[str, str]


def start(path: str, store: str = "moto") -> Ctx:
    from ops.demo import create_demo_keys
    from ops.up import start_stack

    for name in EMBEDDED:  # always the embedded stack: comparable from one machine to the next
        os.environ.pop(name, None)
    os.environ["DAILIES_PREVIEW_FIRST_RENDITION"] = "true" if path == "new" else "false"
    os.environ.update({"DAILIES_HOME": str(HOMES[path]), "PREFECT_UI_ENABLED": "false"})
    ports: dict[str, int | None] = {"edge": 0, "api": 0, "prefect": 0, "s3": 0}
    stack = start_stack(
        HOMES[path], ports, gpu=False, echo=lambda line: print(f"  [{path}] {line}"),
        store=store,
    )  # fmt: skip
    return Ctx(
        stack,
        httpx.Client(base_url=stack.urls["api"], timeout=120),
        httpx.Client(base_url=stack.urls["prefect_api"] + "/", timeout=30),
        create_demo_keys(),
    )


def promote_fresh(ctx: Ctx, case: Case, base: Path) -> str:
    from dailies.clients import s3_client
    from dailies.settings import get_settings
    from ops.demo import sha256_of
    from ops.demo_client import promote, upload

    master = fresh_master(case, base)
    try:
        sha = sha256_of(master)
        key = upload(ctx.api, ctx.keys["editor"], master)
        promote(ctx.api, ctx.keys["editor"], key, sha, timeout_s=600)
    finally:
        master.unlink()
    settings = get_settings()  # staging is not locked: bound moto's disk use
    s3_client(settings).delete_object(Bucket=settings.staging_bucket, Key=key)
    return sha


def prefect_states(ctx: Ctx, kind: str, run_id: str) -> dict[str, float]:
    """First timestamp (epoch s) of each state type of a flow or task run."""
    from datetime import datetime

    rows = ctx.prefect.get(f"{kind}_run_states/", params={f"{kind}_run_id": run_id}).json()
    first: dict[str, float] = {}
    for row in sorted(rows, key=lambda r: r["timestamp"]):
        first.setdefault(row["type"], datetime.fromisoformat(row["timestamp"]).timestamp())
    return first


def first_rendition_run(ctx: Ctx, sha: str) -> dict[str, Any] | None:
    body = {"task_runs": {"name": {"like_": f"first-rendition-{sha[:12]}"}}, "limit": 5}
    runs = ctx.prefect.post("task_runs/filter", json=body).json()
    return runs[0] if runs else None


def settle(ctx: Ctx, case: Case, sha: str, row: dict[str, Any]) -> None:
    """Until this run's work is over, so the next run has the CPU to itself."""
    reviewer = {"Authorization": f"Bearer {ctx.keys['reviewer']}"}
    status = ctx.api.get(f"/api/preview/{sha}", headers=reviewer).json()
    flow_run = status.get("flow_run_id")
    if flow_run:  # first play is measured; the rest of the ladder would only eat the CPU
        ctx.prefect.post(f"flow_runs/{flow_run}/set_state",
                         json={"state": {"type": "CANCELLING"}, "force": True})  # fmt: skip
    deadline, task = time.monotonic() + 300, None
    while time.monotonic() < deadline:
        task = first_rendition_run(ctx, sha)
        task_done = task is None or task["state_type"] in ("COMPLETED", "FAILED", "CRASHED")
        if flow_run:
            state = ctx.prefect.get(f"flow_runs/{flow_run}").json()["state_type"]
            # A cancelled run whose process already exited may stay CANCELLING for good.
            flow_done = state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED", "CANCELLING")
        else:
            flow_done = True
        left = _ffmpeg_for(sha)
        if task_done and flow_done and not left:
            break
        if flow_done and task_done:
            for pid in left:  # the cancelled run's orphaned ffmpeg, started by our stack
                os.kill(pid, 15)
        time.sleep(1)
    if task is not None:
        row["task"] = {"state": task["state_type"], **prefect_states(ctx, "task", task["id"])}
    if flow_run:
        row["flow"] = prefect_states(ctx, "flow", flow_run)
    _delete_previews(sha)


def _ffmpeg_for(sha: str) -> list[int]:
    """ffmpeg processes of this run still going (a cancelled flow run may leave its child)."""
    out = subprocess.run(["pgrep", "-f", f"ffmpeg.*{sha[:12]}"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _delete_previews(sha: str) -> None:
    from dailies.clients import s3_client
    from dailies.settings import get_settings

    settings = get_settings()
    s3 = s3_client(settings)
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.previews_bucket, Prefix=f"{sha}/"
    ):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=settings.previews_bucket, Delete={"Objects": keys})


# ---- one timed run ----
def play(browser: Any, edge: str, sha: str, token: str) -> dict[str, Any]:
    context = browser.new_context()  # a cold cache, as a reviewer's first visit
    page = context.new_page()
    page.add_init_script(INIT_SCRIPT)
    try:
        page.goto(f"{edge}/watch/{sha}#token={token}", wait_until="commit")
        # Done at `playing`, or at a failure before playback was attempted; a ladder that
        # fails after the first rendition is published does not stop what already plays.
        page.wait_for_function(
            "() => (window.__bench && window.__bench.playing !== null) ||"
            " (window.dailiesPlayer?.phase === 'failed' &&"
            "  !window.dailiesPlayer.events.some(e => e.phase === 'loading'))",
            timeout=300_000,
            polling=50,
        )
        seen = page.evaluate(COLLECT)
        if seen is None:
            raise RuntimeError("the page's timings could not be read back")
    finally:
        context.close()
    return timeline(seen, sha)


def timeline(seen: dict[str, Any], sha: str) -> dict[str, Any]:
    """Milestones in ms since navigation start, from the page's own clock."""
    if seen["playing"] is None:
        raise RuntimeError(f"never played: {seen['trace']}")
    multivariant = [r for r in seen["resources"] if r["name"].endswith(f"{sha}/manifest.m3u8")]
    segments = [r for r in seen["resources"] if r["name"].endswith(".m4s")]
    events = {e["phase"]: e["at"] for e in reversed(seen["trace"]["events"])}
    missed = next((r["end"] for r in multivariant if r["status"] == 404), events.get("requesting"))
    loaded = [r["end"] for r in multivariant if r["status"] == 200] or [None]
    posts = [r for r in seen["resources"] if r["name"].endswith("/api/preview")]
    return {
        "origin": seen["origin"],
        "404 seen": missed,
        "POST answered (playable)": events["loading"],
        "manifest loaded (hls.js)": loaded[-1],
        "first segment": segments[0]["end"] if segments else None,
        "first segment MB": segments[0]["bytes"] / 1e6 if segments else None,
        "first playing": seen["playing"],
        # the poster's image loaded and set on the <video> (poster.js); none when the first
        # frame came first
        "poster shown": seen["trace"].get("posterAt"),
        "posts": len(posts),
        "phases": [e["phase"] for e in seen["trace"]["events"]],
    }


def server_marks(row: dict[str, Any]) -> dict[str, float]:
    """Prefect's timestamps on the page's clock (ms since navigation start)."""
    marks = {}
    for kind, name in (("task", "first rendition"), ("flow", "ladder flow")):
        for state in ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED"):
            at = row.get(kind, {}).get(state)
            if at is not None:
                marks[f"{name} {state.lower()}"] = at * 1000 - row["origin"]
    return marks


def measure(
    path: str, cases: list[Case], runs: int, store: str = "moto"
) -> dict[str, list[dict[str, Any]]]:
    """One stack, every case; the first run (not counted) meets a task worker and a Prefect
    server that have served nothing yet, as the first reviewer after `dailies up` does."""
    from playwright.sync_api import sync_playwright

    ctx = start(path, store)
    results: dict[str, list[dict[str, Any]]] = {"warm-up": [], **{c.key: [] for c in cases}}
    try:
        # Prefect's sync calls break inside playwright's loop (tests/e2e/conftest.py): the
        # browser lives only around the page work, the Prefect REST calls are plain httpx.
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            warm = browser.new_page()  # the first page of a fresh Chromium is slower
            warm.goto(f"{ctx.stack.urls['edge']}/watch/{'0' * 64}")
            warm.close()
            # Round-robin (a, d, a, d…), not all of one case then the next: a store that
            # slows as it fills, or a busy spell, then weighs on every case alike.
            plan = [("warm-up", cases[0])] + [(c.key, c) for _ in range(runs) for c in cases]
            for label, case in plan:
                row = timed_run(ctx, browser, case)
                results[label].append(row)
                # what a crash or Ctrl-C would otherwise lose
                (WORK / f"partial-{path}.json").write_text(json.dumps(results))
                print(f"  [{path}] {label} {case.key}: first playing "
                      f"{row['first playing'] / 1000:.2f} s  " + _marks(row), flush=True)  # fmt: skip
            browser.close()
    finally:
        print(f"  [{path}] logs: {ctx.stack.urls.get('logs')}", flush=True)
        ctx.stack.stop()
        # Its OSD's file holds every master this stack promoted (2 GiB each for case c).
        shutil.rmtree(HOMES[path] / "stack" / "rgw", ignore_errors=True)
    return results


def timed_run(ctx: Ctx, browser: Any, case: Case) -> dict[str, Any]:
    from ops.errors import DemoFailure

    for attempt in range(3):  # untimed; the tree under us is being edited by others
        try:
            sha = promote_fresh(ctx, case, base_master(case))
            break
        except DemoFailure as exc:
            if attempt == 2:
                raise
            print(f"  promotion failed ({exc}); trying again", flush=True)
            time.sleep(20)
    # The promotion's work (a 2 GiB hash and copy for c and d) winds down first: every case
    # starts on CPUs as quiet as the box allows, so the cases differ by the master alone.
    waited, busy = wait_quiet()
    load = os.getloadavg()[0]
    row = play(browser, ctx.stack.urls["edge"], sha, ctx.keys["reviewer"])
    row.update(sha=sha, load=load, busy=busy, quiet_wait_s=waited)
    settle(ctx, case, sha, row)
    row.update(server_marks(row))
    return row


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs so far (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def wait_quiet(below: float = 0.2, seconds: int = 3, limit_s: float = 120) -> tuple[float, float]:
    """Wait until the CPUs are less than `below` busy for `seconds` seconds in a row (or
    `limit_s` passes); return (seconds waited, busy fraction of the last second)."""
    start, calm, busy = time.monotonic(), 0, 1.0
    before = _cpu_times()
    while calm < seconds and time.monotonic() - start < limit_s:
        time.sleep(1)
        after = _cpu_times()
        busy = (after[0] - before[0]) / max(1, after[1] - before[1])
        before = after
        calm = calm + 1 if busy < below else 0
    return time.monotonic() - start, busy


def _marks(row: dict[str, Any]) -> str:
    keep = [*STAGES[:-1], "first segment", *(k for k in row if k.startswith(("first r", "ladder")))]
    return ", ".join(f"{k} {row[k] / 1000:.2f}" for k in keep if row.get(k) is not None)


# ---- report ----
def p50(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) / 1000 if values else None


def stage_p50(rows: list[dict[str, Any]]) -> dict[str, float]:
    """p50 of each stage's own duration (p50s of parts need not add up to the total's)."""
    marks = ["start", *STAGES]
    spans = {}
    for before, after in zip(marks, marks[1:], strict=False):
        values = [
            r[after] - (r[before] if before != "start" else 0)
            for r in rows
            if r.get(after) is not None and (before == "start" or r.get(before) is not None)
        ]
        spans[after] = statistics.median(values) / 1000 if values else float("nan")
    return spans


STORES = {
    "moto": "embedded defaults (moto S3, SQLite, Prefect server)",
    "rgw": "embedded defaults but S3 on a throw-away Ceph RGW (`dailies up --store rgw`: "
    "bluestore on a sparse file), SQLite, Prefect server",
}
SECTIONS = {
    "moto": "First play (reviewer's first frame)",
    "rgw": "First play on Ceph RGW (reviewer's first frame, 2 GiB master)",
}


def report(results: dict[str, dict], cases: list[Case], runs: int, store: str = "moto") -> str:
    loads = [r["load"] for path in results.values() for rows in path.values() for r in rows]
    busy = [r.get("busy", 1.0) for path in results.values() for rows in path.values() for r in rows]
    lines = [
        f"Headless Chromium ({CHROMIUM}) opens `/watch/{{sha}}#token=…` on the edge for a "
        "master never built; time from navigation start to the <video>'s first `playing`, "
        f"player defaults (POST `wait_s` 8, hls.js). p50 of {runs} runs per case and path, "
        "each a new master. **new** = task worker's first rendition + ladder deployment; "
        "**old** = `DAILIES_PREVIEW_FIRST_RENDITION=false` (deployment only). Both paths measured "
        f"in the same bench run, one stack after the other, {STORES[store]}, "
        f"on one {os.cpu_count()}-core {platform.machine()} machine that also runs the stack, "
        f"the browser and the untimed promotions. Each run starts once the CPUs have been "
        f"under 20 % busy for 3 s in a row (at most 120 s after its promotion): CPU busy in "
        f"the second before the run, median {statistics.median(busy):.0%}, max "
        f"{max(busy):.0%} (1-min load average, which lags: median "
        f"{statistics.median(loads):.1f}, max {max(loads):.1f}).",
        "",
        f"Not counted: the first run on each fresh stack (case {cases[0].key}, a task worker "
        "and servers that have served nothing yet) played after "
        + ", ".join(
            f"{results[path]['warm-up'][0]['first playing'] / 1000:.2f} s ({path})"
            for path in ("new", "old")
        )
        + ".",
        "",
    ]
    keys = [case.key for case in cases]
    for big in ("c", "d"):
        if "a" not in keys or big not in keys:
            continue
        a, c = p50(results["new"]["a"], "first playing"), p50(results["new"][big], "first playing")
        if a is not None and c is not None:
            verdict = "met" if c - a <= 0.5 else "**missed**"
            lines += [
                f"First play of the 2 GiB master ({big}) minus that of the 12 MB one (a), new "
                f"path: **{c - a:+.2f} s** (limit +0.5 s: {verdict}).",
                "",
            ]
    for case in cases:
        new, old = results["new"][case.key], results["old"][case.key]
        tn, to = p50(new, "first playing") or 0, p50(old, "first playing") or 0
        verdict = "met" if tn <= case.target_s else "**missed**"
        lines += [
            f"### ({case.key}) {case.label}",
            "",
            f"New p50 **{tn:.2f} s**, old p50 {to:.2f} s, old/new **{to / tn:.1f}×**; target "
            f"≤ {case.target_s:.1f} s {verdict}.",
            "",
            "| stage (p50 of its own span, s) | new | old |",
            "| --- | ---: | ---: |",
        ]
        sn, so = stage_p50(new), stage_p50(old)
        prev = "page open"
        for stage in STAGES:
            lines.append(f"| {prev} → {stage} | {sn[stage]:.2f} | {so[stage]:.2f} |")
            prev = stage
        lines.append(f"| **page open → first playing** | **{tn:.2f}** | **{to:.2f}** |")
        poster_n, poster_o = p50(new, "poster shown"), p50(old, "poster shown")
        shown = sum(1 for r in new if r.get("poster shown") is not None)
        lines += [
            "",
            f"Poster on screen after page open (p50): new {_fmt(poster_n)} s, shown before the "
            f"first frame in {shown} of {len(new)} runs; old {_fmt(poster_o)} s; target ≤ 1 s "
            + ("met." if poster_n is not None and poster_n <= 1.0 else "**missed**."),
        ]
        extra = [
            "first segment",
            "first rendition scheduled",
            "first rendition running",
            "first rendition completed",
            "ladder flow pending",
            "ladder flow running",
        ]
        lines += ["", "| milestone after page open (p50, s) | new | old |", "| --- | ---: | ---: |"]
        for key in extra:
            a, b = p50(new, key), p50(old, key)
            if a is not None or b is not None:
                lines.append(f"| {key} | {_fmt(a)} | {_fmt(b)} |")
        mb = [r["first segment MB"] for r in new if r.get("first segment MB")]
        lines += [
            "",
            "Runs, new (s): "
            + ", ".join(f"{r['first playing'] / 1000:.2f}" for r in new)
            + "; old (s): "
            + ", ".join(f"{r['first playing'] / 1000:.2f}" for r in old)
            + (f". First segment fetched (new): {statistics.median(mb):.1f} MB." if mb else "."),
            "",
        ]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", default="a,b,c")
    parser.add_argument("--path", choices=["new", "old"], help=argparse.SUPPRESS)
    # RGW: a real S3 (ops/rgw.py) that serves case (c)'s 2 GiB master in ranges,
    # which moto does not; its OSD keeps objects on disk, in the stack's home.
    parser.add_argument("--store", choices=["moto", "rgw"], default="moto")
    args = parser.parse_args()
    cases = [CASES[key.strip()] for key in args.cases.split(",") if key.strip()]
    if args.path:  # a child: one stack, results as JSON on the last line
        print(json.dumps(measure(args.path, cases, args.runs, args.store)), flush=True)
        return
    for case in cases:  # every base master exists before anything is timed
        print(f"base master {case.key}: {base_master(case)}", flush=True)
    results = {}
    for path in ("new", "old"):
        # A process per stack: Prefect fixes its API URL in a process's settings at import,
        # so a second stack in one process would still talk to the first one's server.
        child = [sys.executable, __file__, "--path", path, "--runs", str(args.runs),
                 "--cases", args.cases, "--store", args.store]  # fmt: skip
        proc = subprocess.Popen(child, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        last = ""
        for line in proc.stdout or []:
            if line.startswith("{"):
                last = line
            else:
                print(line, end="", flush=True)
        if proc.wait() != 0 or not last:
            raise SystemExit(f"the {path}-path stack failed (exit {proc.returncode})")
        results[path] = json.loads(last)
    (WORK / "last-run.json").write_text(json.dumps(results, indent=1))
    body = report(results, cases, args.runs, args.store)
    print(body)
    from bench.results import write_section

    section = SECTIONS[args.store]
    keys = {case.key for case in cases}
    if args.store == "rgw" and "c" not in keys and "d" in keys:
        # the size alone, beside (not instead of) the 250 Mbit/s section
        section = "First play on Ceph RGW (reviewer's first frame, 2 GiB at (a)'s bitrate)"
    write_section(section, body)


if __name__ == "__main__":
    main()
