"""Pure rules of promotion: what a valid request is, what retention a master gets, whether
a copy is what it should be. No I/O here."""

from __future__ import annotations

import base64
import math
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dailies.errors import CopyVerificationFailed, InvalidStagingKey
from dailies.hashing import normalize_sha256
from dailies.preview_rules import backoff_s

STAGING_PREFIX = "uploads/"


@dataclass(frozen=True)
class PromotionRequest:
    staging_key: str
    sha256: str


# What the API adds to a promotion's asset, from the caller's token; it overwrites whatever
# the client sent under these names.
OWNER_KEY = "owner_key_id"
ADMIN_FLAG = "owner_is_admin"


@dataclass(frozen=True)
class AssetLink:
    """The asset a promotion links to its master, and who asks."""

    asset_id: str
    attributes: dict[str, Any]
    owner_key_id: int | None
    # Repoints the asset whoever owns it: an admin's promotion, or one launched outside the
    # API (`dailies promote`, Prefect's UI and CLI): whoever can launch runs there is ops.
    repoints_any: bool


def asset_link(asset: dict[str, Any] | None) -> AssetLink | None:
    """A promotion's `asset` parameter as the link its flow writes; None when it names none."""
    if not asset or not asset.get("asset_id"):
        return None
    owner = asset.get(OWNER_KEY)
    owner = owner if isinstance(owner, int) and not isinstance(owner, bool) else None
    return AssetLink(
        asset_id=str(asset["asset_id"]),
        attributes={k: v for k, v in asset.items() if k not in ("asset_id", OWNER_KEY, ADMIN_FLAG)},
        owner_key_id=owner,
        repoints_any=OWNER_KEY not in asset or asset.get(ADMIN_FLAG) is True,
    )


def validate_promotion_request(staging_key: str, sha256: str) -> PromotionRequest:
    """Normalise the sha and refuse keys outside uploads/ (or escaping it with '..')."""
    sha = normalize_sha256(sha256)
    if not isinstance(staging_key, str) or not staging_key:
        raise InvalidStagingKey("staging_key must be a non-empty string")
    normalised = posixpath.normpath(staging_key)
    if (
        not staging_key.startswith(STAGING_PREFIX)
        or normalised != staging_key
        or not normalised.startswith(STAGING_PREFIX)
        or staging_key.endswith("/")
        or any(ord(c) < 32 for c in staging_key)
    ):
        raise InvalidStagingKey(
            f"staging_key must name an object under {STAGING_PREFIX!r} "
            f"(as returned by POST /api/uploads), got {staging_key[:200]!r}"
        )
    return PromotionRequest(staging_key=staging_key, sha256=sha)


def retain_until_from(now: datetime, days: int) -> datetime:
    """S3 keeps retain-until to the second; drop sub-seconds so comparisons are exact."""
    return (now.astimezone(UTC) + timedelta(days=days)).replace(microsecond=0)


def retention_needs_update(
    current: tuple[str, datetime] | None, mode: str, retain_until: datetime
) -> bool:
    """True when the object lacks retention, has another mode, or would lapse earlier."""
    if current is None:
        return True
    current_mode, current_until = current
    return current_mode != mode or current_until < retain_until


def verify_copy(head: dict[str, Any], size_bytes: int, sha256: str) -> None:
    """Check what S3 says of the new version against what we hashed."""
    got_size = int(head.get("ContentLength", -1))
    if got_size != size_bytes:
        raise CopyVerificationFailed(
            f"masters copy of {sha256} has {got_size} bytes, expected {size_bytes}"
        )
    checksum = head.get("ChecksumSHA256")
    # A multipart object's checksum is a checksum of part checksums ("...-N"): not comparable.
    if checksum and "-" not in checksum:
        got = base64.b64decode(checksum).hex()
        if got != sha256:
            raise CopyVerificationFailed(f"masters copy reports sha256 {got}, expected {sha256}")
    meta_sha = (head.get("Metadata") or {}).get("sha256")
    if meta_sha and meta_sha != sha256:
        raise CopyVerificationFailed(f"masters object carries sha256 {meta_sha}, expected {sha256}")


def promotion_summary(staging_key: str, result: dict[str, Any]) -> str:
    """The markdown ops read on a promotion run's page: what was verified, where it went."""
    size = int(result.get("size_bytes") or 0)
    rows = [
        ("outcome", result.get("status")),
        ("sha256", f"`{result.get('sha256')}`"),
        ("size", f"{size:,} bytes ({size / 2**20:,.1f} MiB)"),
        ("from (staging)", f"`{staging_key}`"),
        ("to (masters)", f"`{result.get('masters_key')}`"),
        ("version id", f"`{result.get('version_id')}`"),
        ("etag", f"`{result.get('etag')}`"),
        ("retention", f"{result.get('retention_mode')} until {result.get('retain_until')}"),
    ]
    lines = ["| | |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in rows)]
    return "### Master promoted\n\n" + "\n".join(lines) + "\n"


def retry_wait_s(
    failures: int, last_failed_at: datetime | None, now: datetime, base_s: int, max_s: int
) -> int:
    """Seconds before promoting a key as a sha that failed `failures` times may run again:
    a wrong checksum re-hashes the whole object each time, so re-posting backs off."""
    if failures <= 0 or last_failed_at is None:
        return 0
    left = backoff_s(failures, base_s, max_s) - (now - last_failed_at).total_seconds()
    return max(0, math.ceil(left))
