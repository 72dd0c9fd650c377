"""The catalog schema. Postgres in production and tests, SQLite as the embedded default.

Changes go through an Alembic migration in migrations/versions/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out. SQLite (the embedded default) stores no zone and hands
    back naive datetimes, which then fail to compare with aware ones from S3."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON}


class Master(Base):
    """One row per distinct content: the sha256 is the identity."""

    __tablename__ = "masters"
    # The audit's orders (migration 0008). ix_masters_masters_key, on masters_key in the
    # "C" collation, is the migration's alone: SQLite has no collation of that name.
    __table_args__ = (Index("ix_masters_last_verified_at_sha256", "last_verified_at", "sha256"),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    masters_key: Mapped[str] = mapped_column(String(1024))
    version_id: Mapped[str | None] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(128))
    retention_mode: Mapped[str] = mapped_column(String(16))
    retain_until: Mapped[datetime]
    source_staging_key: Mapped[str] = mapped_column(String(1024))
    promoted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_verified_at: Mapped[datetime | None]
    last_verified_ok: Mapped[bool | None]
    # ffprobe's JSON, taken at promotion, so a reviewer's first play does not wait on a probe
    # over the network; None when ffprobe could not read it (or it predates migration 0006).
    probe: Mapped[dict[str, Any] | None]


class Asset(Base):
    """An editor's asset (a clip in a project); many assets may point at one master."""

    __tablename__ = "assets"

    asset_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    master_sha256: Mapped[str] = mapped_column(ForeignKey("masters.sha256"), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The API key that first linked it: only it (or an admin) may repoint the asset.
    owner_key_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Upload(Base):
    """A multipart upload the API presigned: who owns it, what was declared, how far it got.
    Only its owner (or an admin) completes, aborts or promotes it."""

    __tablename__ = "uploads"

    upload_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), unique=True)
    owner_key_id: Mapped[int] = mapped_column(Integer, index=True)
    declared_size: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(BigInteger)
    part_count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # open/completed/aborted
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class PromotionAttempt(Base):
    """Every promotion try, successful or not, with the reason a person can act on."""

    __tablename__ = "promotion_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    staging_key: Mapped[str] = mapped_column(String(1024))
    outcome: Mapped[str] = mapped_column(String(32))  # PromotionOutcome (masters.py)
    reason: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_promotion_attempts_created_at", "created_at"),)


class Preview(Base):
    """The preview of one master: the source of truth the API reads."""

    __tablename__ = "previews"

    sha256: Mapped[str] = mapped_column(ForeignKey("masters.sha256"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued/building/ready/failed
    ladder_version: Mapped[str | None] = mapped_column(String(32))
    encoder: Mapped[str | None] = mapped_column(String(32))
    renditions: Mapped[list[Any] | None] = mapped_column(JSON)
    duration_s: Mapped[float | None]
    manifest_key: Mapped[str | None] = mapped_column(String(1024))
    progress: Mapped[float | None]  # 0..1 while building
    error: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The master's start timecode and frame rate ("24000/1001"), as the review page labels
    # frames; also in {sha}/timing.json beside the playlists.
    start_timecode: Mapped[str | None] = mapped_column(String(16))
    frame_rate: Mapped[str | None] = mapped_column(String(24))


class Document(Base):
    """A file an editor attached to an asset (call sheet, script, LUT, camera report), kept
    in the docs bucket. `pending` until its upload is checked (size, type, sha256)."""

    __tablename__ = "documents"

    document_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.asset_id"), index=True)
    key: Mapped[str] = mapped_column(String(1024), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # pending/ready
    owner_key_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]


class Note(Base):
    """A reviewer's note on a master's frame or range (frame_out inclusive), with an optional
    drawing over the picture; replies point at their note (one level). Tied to the sha256, so
    notes outlive every rebuild of the preview."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("masters.sha256"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id"), index=True)
    frame_in: Mapped[int] = mapped_column(Integer)
    frame_out: Mapped[int | None] = mapped_column(Integer)
    drawing: Mapped[dict[str, Any] | None]
    text: Mapped[str] = mapped_column(Text)
    author_key_id: Mapped[int] = mapped_column(Integer)
    author_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime | None]
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_by_key_id: Mapped[int | None] = mapped_column(Integer)
    resolved_by_name: Mapped[str | None] = mapped_column(String(255))
    resolved_at: Mapped[datetime | None]

    # A master's notes are read in id order, a page at a time (keyset: id > after).
    __table_args__ = (Index("ix_notes_sha256_id", "sha256", "id"),)


class Approval(Base):
    """One reviewer's verdict on one master: approved, needs_changes or none."""

    __tablename__ = "approvals"

    sha256: Mapped[str] = mapped_column(ForeignKey("masters.sha256"), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # ApprovalStatus (note_rules.py)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ApiKey(Base):
    """A bearer token's hash and role; the token itself is never stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell keys apart
    role: Mapped[str] = mapped_column(String(16))  # reviewer/editor/admin
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]


class AuditRun(Base):
    """One integrity audit of the masters bucket against this catalog."""

    __tablename__ = "audit_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]
    objects_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_hashed: Mapped[int] = mapped_column(BigInteger, default=0)
    findings_by_kind: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running/clean/findings


class AuditFinding(Base):
    __tablename__ = "audit_findings"
    __table_args__ = (Index("ix_audit_findings_run_id_id", "run_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("audit_runs.id"))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text)
    critical: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
