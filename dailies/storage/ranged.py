"""Reading one object as parallel ranged GETs, handed back strictly in order, in a bounded
window: a single GET stream runs at one connection's speed (tens to a few hundred MiB/s on
a real store), far below what sha256 can take.

Every GET carries If-Match with the ETag the caller read (the one the copy is later guarded
by) and its answer's ETag and Content-Range are checked too, so every byte handed back is a
byte of that one version: a store that replaced the object mid-read fails the read."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from dailies.errors import StagingObjectChanged
from dailies.read_plan import ByteRange, answers_range, plan_ranges
from dailies.storage.objects import error_code

# A reader looks at the stop flag between reads of this size: a failed read ends the others
# within one of these, not after their whole part.
_READ_SLICE = 1024**2


class _Stopped(Exception):
    """Another part failed or the consumer went away: this read is abandoned."""


def changed_while_read(bucket: str, key: str) -> StagingObjectChanged:
    return StagingObjectChanged(
        f"s3://{bucket}/{key} changed while it was being hashed (its ETag no longer matches); "
        "nothing was promoted: promote it again to hash the new content"
    )


def iter_object_parts(
    s3: Any,
    bucket: str,
    key: str,
    size_bytes: int,
    etag: str,
    part_bytes: int,
    parts_in_flight: int,
) -> Iterator[memoryview]:
    """The object's bytes as consecutive parts, in order, fetched by up to parts_in_flight
    ranged GETs at once. At most parts_in_flight part buffers exist, whether fetching,
    fetched and waiting for their turn, or handed out: memory is bounded by
    parts_in_flight x part_bytes whatever the object's size. A part handed out is valid until
    the next one is asked for (its buffer is then reused): hash it, don't keep it.

    One part in flight is one GET of the whole object, read a part at a time: for a store
    that reads a whole object to answer any range (moto), where parallel ranges cost a whole
    read each."""
    if parts_in_flight < 1:
        raise ValueError("at least one part must be in flight")
    if parts_in_flight == 1:
        parts = _one_stream(s3, bucket, key, size_bytes, etag, part_bytes)
    else:
        parts = _parallel_ranges(s3, bucket, key, size_bytes, etag, part_bytes, parts_in_flight)
    try:
        yield from parts
    except ClientError as exc:
        if error_code(exc) in {"PreconditionFailed", "412"}:
            raise changed_while_read(bucket, key) from exc
        raise
    finally:
        parts.close()


def _parallel_ranges(
    s3: Any,
    bucket: str,
    key: str,
    size_bytes: int,
    etag: str,
    part_bytes: int,
    parts_in_flight: int,
) -> Generator[memoryview]:
    ranges = plan_ranges(size_bytes, part_bytes)
    stop = threading.Event()
    free: list[bytearray] = []
    window: deque[tuple[Future[memoryview], bytearray]] = deque()

    def fetch_next(pool: ThreadPoolExecutor) -> None:
        wanted = next(ranges, None)
        if wanted is None:
            return
        buffer = free.pop() if free else bytearray(min(part_bytes, size_bytes))
        read = pool.submit(_read_range, s3, bucket, key, wanted, size_bytes, etag, buffer, stop)
        window.append((read, buffer))

    with ThreadPoolExecutor(parts_in_flight, thread_name_prefix="ranged-get") as pool:
        try:
            for _ in range(parts_in_flight):
                fetch_next(pool)
            while window:
                read, buffer = window.popleft()
                yield read.result()
                # The consumer asked for the next part: this buffer is free to refill.
                free.append(buffer)
                fetch_next(pool)
        finally:
            stop.set()
            for read, _ in window:
                read.cancel()


def _one_stream(
    s3: Any, bucket: str, key: str, size_bytes: int, etag: str, part_bytes: int
) -> Generator[memoryview]:
    if size_bytes == 0:
        return  # as the ranged reader: no GET, the copy's ETag guard still applies
    answer = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)
    body = answer["Body"]
    try:
        if answer.get("ETag") != etag or answer.get("ContentLength") != size_bytes:
            raise changed_while_read(bucket, key)
        buffer = memoryview(bytearray(min(part_bytes, size_bytes)))
        never_stop = threading.Event()
        for wanted in plan_ranges(size_bytes, part_bytes):
            yield _fill(body, buffer[: wanted.length], key, never_stop)
    finally:
        body.close()


def _read_range(
    s3: Any,
    bucket: str,
    key: str,
    wanted: ByteRange,
    size_bytes: int,
    etag: str,
    buffer: bytearray,
    stop: threading.Event,
) -> memoryview:
    """One ranged GET into `buffer`, checked to be the range and the version asked for."""
    if stop.is_set():
        raise _Stopped
    answer = s3.get_object(Bucket=bucket, Key=key, Range=wanted.http_range, IfMatch=etag)
    body = answer["Body"]
    try:
        # If-Match is the store's check; these are ours, for a store that ignores it.
        if answer.get("ETag") != etag or not answers_range(
            answer.get("ContentRange"), wanted, size_bytes
        ):
            raise changed_while_read(bucket, key)
        return _fill(body, memoryview(buffer)[: wanted.length], key, stop)
    finally:
        body.close()


def _fill(body: Any, view: memoryview, key: str, stop: threading.Event) -> memoryview:
    """Read exactly len(view) bytes of a GET's body into view."""
    filled = 0
    while filled < len(view):
        if stop.is_set():
            raise _Stopped
        got = body.readinto(view[filled : filled + _READ_SLICE])
        if not got:  # botocore raises first on a short body; this is the backstop
            raise ConnectionError(f"GET of {key} ended {len(view) - filled} bytes short")
        filled += got
    return view
