"""Promotion's hash step against its peers on one staged master, same store, same run.

    uv run python bench/promote.py [--store moto|rgw] [--size-mib 1024] [--part-mib 16]
                                   [--in-flight 8] [--no-promote]

Starts its own store (moto, or Ceph RGW on bluestore as `dailies up --store rgw` runs it) and
Prefect server, stages a pseudo-random master (streamed, nothing on local disk), then
measures on that one object:

- the local single-core sha256 limit: hashlib over bytes in memory, before and after;
- `curl <presigned GET> | sha256sum`: one HTTP stream, hashed by coreutils;
- boto3's single stream (`iter_object`, what promotion hashed before it read ranges);
- our hash step (`hash_staging_object`: parallel ranged GETs under If-Match) and its RSS growth
  (on moto one GET stream, as `dailies up` runs it there: moto copies the whole object per GET);
- our ranged reader without the hash: what the store serves it at all;
- the CPU seconds per GiB the store's processes and this one spent on each;
- the whole `promote_master` (hash, locked server-side copy, multipart above 5 GiB, with the
  part count read back from the store).

Prints one `RESULT …` line per figure and writes ratios (not seconds: the box is shared) to
bench/RESULTS.md with the load average beside them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stack import bench_stack

MiB = 1024**2
GiB = 1024**3


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakRss:
    def __enter__(self) -> PeakRss:
        self.baseline = self.peak = rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / MiB


class PatternStream(io.RawIOBase):
    """`size` pseudo-random bytes (a random block, rotated differently for each MiB so no two
    parts are alike), hashed as they are read: a master of any size with nothing on disk."""

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0
        self.block = os.urandom(MiB)
        self.digest = hashlib.sha256()
        self.current, self.current_index = b"", -1

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        filled = 0
        while filled < len(buffer) and self.pos < self.size:
            index, offset = divmod(self.pos, MiB)
            if index != self.current_index:
                shift = (index * 7919) % MiB
                self.current, self.current_index = self.block[shift:] + self.block[:shift], index
            n = min(len(buffer) - filled, MiB - offset, self.size - self.pos)
            buffer[filled : filled + n] = self.current[offset : offset + n]
            self.digest.update(buffer[filled : filled + n])
            self.pos += n
            filled += n
        return filled


def stage(s3: Any, bucket: str, key: str, size: int, part: int = 64 * MiB) -> str:
    """Upload `size` pattern bytes as a multipart upload, a few parts in memory at a time
    (boto3's upload_fileobj reads a stream ahead of its uploads without bound); return the
    sha256 of what was sent."""
    from concurrent.futures import ThreadPoolExecutor

    source = PatternStream(size)
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

    def put(number: int, data: bytes) -> dict[str, Any]:
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                Body=data)  # fmt: skip
        return {"PartNumber": number, "ETag": answer["ETag"]}

    parts, pending = [], []
    with ThreadPoolExecutor(3) as pool:
        for number in range(1, -(-size // part) + 1):
            data = bytearray(min(part, size - source.pos))
            source.readinto(memoryview(data))  # PatternStream fills any length at once
            pending.append(pool.submit(put, number, bytes(data)))
            if len(pending) >= 3:
                parts.append(pending.pop(0).result())
        parts += [p.result() for p in pending]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                 MultipartUpload={"Parts": parts})  # fmt: skip
    return source.digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["moto", "rgw"], default="moto")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, help="DAILIES_HASH_PART_BYTES, in MiB")
    parser.add_argument("--in-flight", type=int, help="DAILIES_HASH_PARTS_IN_FLIGHT")
    parser.add_argument("--no-promote", action="store_true", help="hash figures only")
    args = parser.parse_args()
    env = {}
    if args.part_mib:
        env["DAILIES_HASH_PART_BYTES"] = str(args.part_mib * MiB)
    if args.in_flight or args.store == "moto":
        # moto copies the whole object for every GET: as `dailies up` on moto, one stream.
        env["DAILIES_HASH_PARTS_IN_FLIGHT"] = str(args.in_flight or 1)
    # A kill (timeout, an operator) ends the stack's servers too: the finally clauses run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with bench_stack("promote", env=env, store=args.store) as work:
        run(args.store, args.size_mib * MiB, not args.no_promote, work)


def sha256_limit_mib_s(total: int) -> float:
    """hashlib's sha256 over bytes already in memory, one core: what no reader can beat."""
    block = os.urandom(64 * MiB)
    digest = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(max(1, total // len(block))):
        digest.update(block)
    return max(1, total // len(block)) * len(block) / MiB / (time.perf_counter() - started)


def timed(what: Callable[[], str]) -> tuple[str, float]:
    started = time.perf_counter()
    digest = what()
    return digest, time.perf_counter() - started


def load1() -> float:
    return os.getloadavg()[0]


def cpu_seconds(work: Path) -> tuple[float, float]:
    """CPU seconds so far of the store's processes (those started under `work`: not another
    session's RGW) and of this process."""
    tick, store = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if str(work) not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        store += (int(fields[11]) + int(fields[12])) / tick
    own = os.times()
    return store, own.user + own.system


def run(store: str, size: int, promote: bool, work: Path) -> None:
    from dailies.clients import s3_client
    from dailies.hashing import sha256_of_chunks
    from dailies.promotion_rules import validate_promotion_request
    from dailies.settings import get_settings
    from dailies.storage.objects import iter_object
    from dailies.storage.ranged import iter_object_parts
    from flows.promote import promote_master
    from ops.bootstrap import bootstrap
    from tasks.promotion import hash_staging_object

    settings = get_settings()
    bootstrap(settings)
    s3 = s3_client(settings)
    bucket, key = settings.staging_bucket, f"uploads/{uuid.uuid4()}/master.bin"

    started = time.perf_counter()
    sha = stage(s3, bucket, key, size)
    stage_s = time.perf_counter() - started
    size_gib = f"{size / GiB:g}"
    print(f"staged {size / MiB:,.0f} MiB in {stage_s:.0f} s on {store}; load {load1():.1f}")

    warm = os.urandom(1024)  # the first flow run imports everything and registers the flow
    warm_key = f"uploads/{uuid.uuid4()}/warm.bin"
    s3.put_object(Bucket=bucket, Key=warm_key, Body=warm)
    promote_master(warm_key, hashlib.sha256(warm).hexdigest())

    loads = [load1()]
    limits = [sha256_limit_mib_s(min(size, 2 * GiB))]
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                    ExpiresIn=3600)  # fmt: skip

    def curl() -> str:
        done = subprocess.run(f"curl -sS --fail '{url}' | sha256sum", shell=True, check=True,
                              capture_output=True, text=True)  # fmt: skip
        return done.stdout.split()[0]

    def single_stream() -> str:
        return sha256_of_chunks(iter_object(s3, bucket, key, settings.hash_chunk_bytes))[0]

    request = validate_promotion_request(key, sha)

    def ours() -> str:
        return hash_staging_object.fn(request).sha256

    def ranged_read_only() -> str:
        """Our reader without the hash: what the store serves this reader at all."""
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
        for _ in iter_object_parts(s3, bucket, key, size, etag, settings.hash_part_bytes,
                                   settings.hash_parts_in_flight):  # fmt: skip
            pass
        return sha

    figures: dict[str, float] = {}
    growth: dict[str, float] = {}
    cpu: dict[str, tuple[float, float]] = {}
    for name, reader in (("curl-presigned", curl), ("boto3-single-stream", single_stream),
                         ("ours", ours), ("ranged-read-only", ranged_read_only)):  # fmt: skip
        before = cpu_seconds(work)
        with PeakRss() as peak:
            digest, seconds = timed(reader)
        after = cpu_seconds(work)
        assert digest == sha, f"{name} hashed something else"
        figures[name], growth[name] = size / MiB / seconds, peak.growth_mib
        gib = size / GiB
        cpu[name] = ((after[0] - before[0]) / gib, (after[1] - before[1]) / gib)
        loads.append(load1())
        # as it is measured: a run killed later (a full disk, a timeout) keeps what it had
        print(f"measured {name}: {figures[name]:.0f} MiB/s, limit before {limits[0]:.0f}, "
              f"rss growth {growth[name]:.0f} MiB, store/own CPU s/GiB {cpu[name][0]:.2f}/"
              f"{cpu[name][1]:.2f}, load {loads[-1]:.1f}", flush=True)  # fmt: skip
    limits.append(sha256_limit_mib_s(min(size, 2 * GiB)))
    limit = max(limits)

    common = f"store={store} size_gib={size_gib}"
    lines = [f"RESULT promote-hash {common} what=sha256-limit mib_s={limit:.0f} "
             f"before={limits[0]:.0f} after={limits[1]:.0f}"]  # fmt: skip
    for name, mib_s in figures.items():
        lines.append(
            f"RESULT promote-hash {common} what={name} mib_s={mib_s:.0f} limit_mib_s={limit:.0f}"
            f" ratio={mib_s / limit:.2f} rss_growth_mib={growth[name]:.0f}"
            f" store_cpu_s_per_gib={cpu[name][0]:.2f} own_cpu_s_per_gib={cpu[name][1]:.2f}"
            f" load1={loads[-1]:.1f}"
            + (f" part_mib={settings.hash_part_bytes // MiB} in_flight="
               f"{settings.hash_parts_in_flight}" if name == "ours" else "")
        )  # fmt: skip

    copy_row = ""
    if promote:
        with PeakRss() as peak:
            started = time.perf_counter()
            result = promote_master(key, sha)
            promote_s = time.perf_counter() - started
        assert result["status"] == "promoted", result
        head = s3.head_object(Bucket=settings.masters_bucket, Key=sha)
        etag_parts = head["ETag"].strip('"').partition("-")[2] or "1"
        parts_count = s3.head_object(Bucket=settings.masters_bucket, Key=sha, PartNumber=1).get(
            "PartsCount", "unreported"
        )
        multipart = size > settings.multipart_copy_threshold_bytes
        lines.append(
            f"RESULT promote-master {common} mib_s={size / MiB / promote_s:.0f} "
            f"limit_mib_s={limit:.0f} ratio={size / MiB / promote_s / limit:.2f} "
            f"rss_growth_mib={peak.growth_mib:.0f} copy={'multipart' if multipart else 'single'} "
            f"etag_parts={etag_parts} parts_count={parts_count}"
        )
        copy_row = (
            f"| `promote_master` (hash + Object-Locked server-side copy"
            f"{', multipart' if multipart else ''} + verify + catalog row) | "
            f"{size / MiB / promote_s / limit:.2f} | {peak.growth_mib:.0f} | | |\n"
        )
        copy_note = (
            f"- the masters object: ETag `…-{etag_parts}`, PartsCount on `HEAD ?partNumber=1`: "
            f"{parts_count}\n"
        )
    loads.append(load1())
    for line in lines:
        print(line, flush=True)

    rows = "".join(
        f"| {label} | {figures[name] / limit:.2f} | {growth[name]:.0f} | {cpu[name][0]:.2f} |"
        f" {cpu[name][1]:.2f} |\n"
        for name, label in (
            ("ours", f"our hash step (`hash_staging_object`: ranged GETs of "
                     f"{settings.hash_part_bytes // MiB} MiB, {settings.hash_parts_in_flight} "
                     "in flight, If-Match)"),
            ("curl-presigned", "`curl <presigned GET> \\| sha256sum`"),
            ("boto3-single-stream", "boto3's single GET stream (`iter_object`, the old hash)"),
            ("ranged-read-only", "our ranged reader without the hash (what the store serves it)"),
        )
    )  # fmt: skip
    body = f"""
Object: {size / MiB:,.0f} MiB on {"Ceph RGW (bluestore, as `dailies up --store rgw`)" if store == "rgw" else "moto's S3 server"}, one object, one run; load average (1 min) {" → ".join(f"{x:.1f}" for x in loads)} on {os.cpu_count()} cores.
Ratios are against the single-core sha256 limit measured in the same run (hashlib over bytes in memory: {limits[0]:.0f} MiB/s before, {limits[1]:.0f} after; the higher is used).

| what | × sha256 limit | RSS growth MiB | store CPU s/GiB | own CPU s/GiB |
| --- | --- | --- | --- | --- |
{rows}{copy_row}
{copy_note if promote else ""}
```
{chr(10).join(lines)}
```
"""  # noqa: E501
    from results import write_section

    write_section("promote" if store == "moto" else f"promote-{store}-{size_gib}gib", body)
    print(body)


if __name__ == "__main__":
    main()
