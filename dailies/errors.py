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


class ListingOutOfOrder(DailiesError):
    """A sorted stream the audit merges (the bucket's listing, the catalog's keyset pages)
    went backwards: a merge over it would report present objects as missing."""


class PlaylistError(DailiesError, ValueError):
    """An HLS playlist ffmpeg wrote is malformed or was never finished."""


# --- HTTP-facing refusals (mapped to status codes in api/errors.py) ---


class UploadTooLarge(InvalidRequest):
    """The declared or uploaded size is over the configured maximum."""


class UploadNotFound(NotFound):
    """No multipart upload in progress for that upload id and key."""


class UnknownAsset(NotFound):
    """No asset with that id: documents attach to assets a promotion created."""


class UnknownAuditRun(NotFound):
    """No integrity audit run with that id."""


class DocumentNotFound(NotFound):
    """No document with that id, or one whose upload was never completed."""


class Unauthenticated(DailiesError):
    """No bearer token, or one that is unknown or revoked."""


class Forbidden(DailiesError):
    """The token is valid but its role does not allow this."""


class AssetLinkRefused(Forbidden):
    """A promotion named an asset another editor owns (it was linked while this run waited):
    the master is promoted, content belongs to nobody, but the asset is not repointed."""

    def __init__(self, asset_id: str, sha256: str) -> None:
        self.asset_id, self.sha256 = asset_id, sha256
        super().__init__(
            f"asset {asset_id!r} belongs to another editor: not linked; master {sha256[:12]} "
            "was promoted all the same (link it under an asset id of your own)"
        )


class RateLimited(DailiesError):
    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"rate limit exceeded; retry in {retry_after_s}s")


class DependencyUnavailable(DailiesError):
    """A service we depend on (database, Redis, S3, Prefect) did not answer."""

    def __init__(self, dependency: str, reason: str) -> None:
        self.dependency = dependency
        super().__init__(f"{dependency} unavailable: {reason}")
