"""Promotion throughput for a large object vs `aws s3 cp s3://… - | sha256sum`, same moto server.

    uv run python bench/promote.py [--size-mib 1024]

Starts its own moto server, runs the promotion flow on the embedded defaults (SQLite catalog,
its own Prefect server) and writes the ratio and the peak RSS growth to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from stack import bench_stack

MiB = 1024**2


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    with bench_stack("promote") as work:
        run(args.size_mib, work)


def run(size_mib: int, work: Path) -> None:
    from dailies.clients import s3_client
    from dailies.settings import get_settings
    from flows.promote import promote_master
    from ops.bootstrap import bootstrap

    settings = get_settings()
    bootstrap(settings)
    s3 = s3_client(settings)

    path = work / "master.bin"
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with path.open("wb") as out:
        for i in range(size_mib):
            chunk = block[i % 251 :] + block[: i % 251]
            out.write(chunk)
            digest.update(chunk)
    sha = digest.hexdigest()
    key = f"uploads/{uuid.uuid4()}/master.bin"
    s3.upload_file(str(path), settings.staging_bucket, key)
    path.unlink()
    size = size_mib * MiB

    # peer: awscli streaming the object to stdout, piped into coreutils sha256sum
    started = time.perf_counter()
    peer = subprocess.run(
        f"{sys.executable} -m awscli s3 cp s3://{settings.staging_bucket}/{key} - | sha256sum",
        shell=True,
        check=True,
        capture_output=True,
        text=True,
    )
    peer_s = time.perf_counter() - started
    assert peer.stdout.split()[0] == sha, "awscli pipeline hashed something else"

    # warm-up: the first flow run imports everything and registers the flow
    warm = os.urandom(1024)
    warm_key = f"uploads/{uuid.uuid4()}/warm.bin"
    s3.put_object(Bucket=settings.staging_bucket, Key=warm_key, Body=warm)
    promote_master(warm_key, hashlib.sha256(warm).hexdigest())

    from dailies.promotion_rules import validate_promotion_request
    from tasks.promotion import hash_staging_object

    request = validate_promotion_request(key, sha)
    started = time.perf_counter()
    hashed = hash_staging_object.fn(request)
    hash_s = time.perf_counter() - started

    assert hashed.sha256 == sha and hashed.size_bytes == size

    with PeakRss() as peak:
        started = time.perf_counter()
        result = promote_master(key, sha)
        ours_s = time.perf_counter() - started
    assert result["status"] == "promoted"

    ratio = peer_s / ours_s
    body = f"""
Object: {size_mib} MiB in moto's S3 server (same server, same run).

| what | seconds | MiB/s |
| --- | --- | --- |
| `aws s3 cp s3://… - \\| sha256sum` (awscli v1 + coreutils) | {peer_s:.2f} | {size / MiB / peer_s:.0f} |
| hashing step alone (`hash_staging_object`) | {hash_s:.2f} | {size / MiB / hash_s:.0f} |
| `promote_master` (stream + sha256 + locked server-side copy + verify + catalog row) | {ours_s:.2f} | {size / MiB / ours_s:.0f} |

- throughput ratio, hashing step vs awscli-and-sha256sum: **{peer_s / hash_s:.2f}x** (above 1 = ours faster)
- throughput ratio, whole promotion vs awscli-and-sha256sum: **{ratio:.2f}x** (the promotion also copies and records)
- peak RSS growth of the promoting process: **{peak.growth_mib:.1f} MiB** for a {size_mib} MiB object
"""
    from results import write_section

    write_section("promote", body)
    print(body)


if __name__ == "__main__":
    main()
