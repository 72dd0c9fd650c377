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


class ContentMismatch(DailiesError):
    """Content is not what it claims to be. (Not "IntegrityError": that is SQLAlchemy's, for
    a constraint the database refused.)"""


class ChecksumMismatch(ContentMismatch):
    def __init__(self, expected: str, actual: str, key: str) -> None:
        self.expected, self.actual, self.key = expected, actual, key
        super().__init__(
            f"sha256 mismatch for {key!r}: expected {expected}, computed {actual}; "
            "the staging object was kept and tagged for quarantine, nothing was promoted"
        )


class CopyVerificationFailed(ContentMismatch):
    pass


class StagingObjectChanged(ContentMismatch):
    """The staged object was overwritten after it was hashed; what was verified is gone."""


class UnplayableMaster(DailiesError):
    """ffprobe/ffmpeg cannot make a preview of this master; retrying will not help."""


class EncodeFailed(DailiesError):
    """ffmpeg exited with an error on an input it could read; the message is its stderr."""


class EncodeTimedOut(EncodeFailed):
    """ffmpeg ran past the time allowed for a master of this length and was killed."""


class BuildInProgress(DailiesError):
    """Another live run is building this preview (its lock was lost, e.g. Redis restarted):
    this run stands down rather than build it twice; retrying cannot help."""


class Transient(DailiesError):
    """Trouble that passes: the one kind of our own errors that a retry may get past."""


class ProcessKilled(Transient):
    """ffmpeg/ffprobe was killed by a signal we did not send (OOM killer, shutdown):
    running it again may well succeed."""


class PlaylistError(DailiesError, ValueError):
    """An HLS playlist ffmpeg wrote is malformed or was never finished."""


# --- HTTP-facing refusals (mapped to status codes in api/errors.py) ---


class UploadTooLarge(InvalidRequest):
    """The declared or uploaded size is over the configured maximum."""


class UploadNotFound(NotFound):
    """No multipart upload in progress for that upload id and key."""


class UnknownAsset(NotFound):
    """No asset with that id: documents attach to assets a promotion created."""


class DocumentNotFound(NotFound):
    """No document with that id, or one whose upload was never completed."""


class Unauthenticated(DailiesError):
    """No bearer token, or one that is unknown or revoked."""


class Forbidden(DailiesError):
    """The token is valid but its role does not allow this."""


class RateLimited(DailiesError):
    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"rate limit exceeded; retry in {retry_after_s}s")


class DependencyUnavailable(DailiesError):
    """A service we depend on (database, Redis, S3, Prefect) did not answer."""

    def __init__(self, dependency: str, reason: str) -> None:
        self.dependency = dependency
        super().__init__(f"{dependency} unavailable: {reason}")
