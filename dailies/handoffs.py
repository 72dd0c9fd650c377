"""What tasks hand each other: frozen records instead of dicts, so each step says what it
needs and a typo is a type error, not a KeyError at minute ten of an encode.

Flows still return plain dicts (docs/CONTRACT.md); `as_dict()` makes them at the edge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StagedObject:
    """A staged upload as hashed: its digest, size and the ETag the bytes were read at."""

    sha256: str
    size_bytes: int
    etag: str


@dataclass(frozen=True)
class CopiedMaster:
    """A master version in the masters bucket and the lock it should carry (or carries,
    once secured; `etag` is set then)."""

    sha256: str
    masters_key: str
    version_id: str
    size_bytes: int
    retention_mode: str
    retain_until: datetime
    etag: str | None = None


@dataclass(frozen=True)
class MasterRecord:
    """A promoted master as the catalog has it: what a preview build reads."""

    sha256: str
    size_bytes: int
    masters_key: str
    version_id: str | None
    etag: str | None
    retention_mode: str
    retain_until: datetime | None
    source_staging_key: str
    promoted_at: datetime | None
    last_verified_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        for name in ("retain_until", "promoted_at", "last_verified_at"):
            value = values[name]
            values[name] = value.isoformat() if value else None
        return values


@dataclass(frozen=True)
class SourceTraits:
    """What the build learnt about the master and had to handle."""

    width: int
    height: int
    rotation: int
    hdr: bool
    interlaced: bool
    audio_channels: int


@dataclass(frozen=True)
class BuiltPreview:
    """Everything a finished build put in the previews bucket (the cached task result)."""

    sha256: str
    manifest_key: str
    renditions: tuple[dict[str, Any], ...]
    duration_s: float
    encoder: str
    ladder_version: str
    mp4_key: str
    poster_key: str
    storyboard_key: str | None
    source: SourceTraits
    extra_keys: tuple[str, ...] = field(default=())
    # The master's start timecode and frame rate (dailies.timecode.SourceTiming.as_json)
    # and the timing.json that carries them to the player.
    timing: dict[str, Any] | None = None
    timing_key: str | None = None

    def object_keys(self) -> list[str]:
        """The objects that must exist for this result to be true (cache validation)."""
        keys = [self.manifest_key, self.mp4_key, self.poster_key, *self.extra_keys]
        keys += [self.timing_key] if self.timing_key else []
        return keys + ([self.storyboard_key] if self.storyboard_key else [])

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["renditions"] = list(self.renditions)
        values.pop("extra_keys")
        return values
