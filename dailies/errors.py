"""Errors are types: raised by the core, mapped once to HTTP status (api) and to a failed
flow state with a human message (flows)."""

from __future__ import annotations


class DailiesError(Exception):
    """Base of everything dailies raises on purpose."""


class InvalidRequest(DailiesError, ValueError):
    """The caller asked for something malformed; retrying the same request cannot help."""


class InvalidSha256(InvalidRequest):
    pass


class InvalidStagingKey(InvalidRequest):
    pass


class NotFound(DailiesError, LookupError):
    pass


class StagingObjectMissing(NotFound):
    pass


class UnknownMaster(NotFound):
    pass


class IntegrityError(DailiesError):
    """Content is not what it claims to be."""


class ChecksumMismatch(IntegrityError):
    def __init__(self, expected: str, actual: str, key: str) -> None:
        self.expected, self.actual, self.key = expected, actual, key
        super().__init__(
            f"sha256 mismatch for {key!r}: expected {expected}, computed {actual}; "
            "the staging object was kept and tagged for quarantine, nothing was promoted"
        )


class CopyVerificationFailed(IntegrityError):
    pass


class UnplayableMaster(DailiesError):
    """ffprobe/ffmpeg cannot make a preview of this master; retrying will not help."""
