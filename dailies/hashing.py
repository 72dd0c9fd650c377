"""sha256 over streams, and the one rule for what a sha256 string looks like."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from dailies.errors import InvalidSha256

_SHA256 = re.compile(r"[0-9a-f]{64}")


def normalize_sha256(value: str) -> str:
    """Lower-case and validate a hex sha256; raise InvalidSha256 with the reason otherwise."""
    if not isinstance(value, str):
        raise InvalidSha256(f"sha256 must be a string, got {type(value).__name__}")
    candidate = value.strip().lower()
    if not _SHA256.fullmatch(candidate):
        raise InvalidSha256(
            f"sha256 must be 64 hexadecimal characters, got {len(candidate)} characters: "
            f"{value[:80]!r}"
        )
    return candidate


def is_sha256(value: str) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def sha256_of_chunks(chunks: Iterable[bytes | memoryview]) -> tuple[str, int]:
    """Hash an iterator of byte chunks in one pass; return (hex digest, total bytes).

    Holds one chunk at a time, so memory does not grow with the stream's length; a chunk
    need not outlive its turn (a reader may refill its buffer once the next is asked for).
    """
    digest = hashlib.sha256()
    total = 0
    for chunk in chunks:
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), total
