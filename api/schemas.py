"""Request and response bodies: the OpenAPI schema clients (and schemathesis) check."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from dailies.db.previews import PreviewStatus as Status


class ErrorBody(BaseModel):
    # A string from our handlers; FastAPI's request validation gives a list of problems.
    detail: str | list[dict[str, Any]]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


# Every authenticated route can answer these (400: a body that is not JSON at all).
AUTH_ERRORS = (400, 401, 403, 422, 429, 503)


class UploadCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=1024)
    size_bytes: int = Field(gt=0)
    content_type: str | None = Field(default=None, max_length=255)


class PartUrl(BaseModel):
    part_number: int
    url: str


class UploadStarted(BaseModel):
    upload_id: str
    key: str
    part_size: int
    part_count: int
    parts: list[PartUrl]  # the first page; ask POST /api/uploads/{id}/parts for the rest
    next_part_number: int | None  # where the next page starts; None when all are here
    expires_at: datetime


class PartsRequest(BaseModel):
    key: str = Field(min_length=1, max_length=1024)
    first: int = Field(ge=1, le=10_000)


class PartsPage(BaseModel):
    parts: list[PartUrl]
    next_part_number: int | None
    expires_at: datetime


class PartDone(BaseModel):
    part_number: int = Field(ge=1, le=10_000)
    # What S3 sent back for the part's PUT: printable ASCII, quoted or not. Anything else
    # cannot be a part's ETag, and S3 answers a control character with a 500.
    etag: str = Field(min_length=1, max_length=256, pattern=r'^"?[\x21\x23-\x7e]+"?$')


class UploadComplete(BaseModel):
    key: str = Field(min_length=1, max_length=1024)
    parts: list[PartDone] = Field(min_length=1, max_length=10_000)


class UploadCompleted(BaseModel):
    key: str
    size_bytes: int


class PromotionCreate(BaseModel):
    staging_key: str = Field(min_length=1, max_length=1024)
    sha256: str = Field(min_length=1, max_length=200)
    asset: dict[str, Any] | None = None


class PromotionStarted(BaseModel):
    flow_run_id: str
    sha256: str


class PromotionStatus(BaseModel):
    state: str  # Prefect's state type, lower case: scheduled, running, completed, failed...
    state_name: str | None = None  # Prefect's finer name: Late, AwaitingRetry...
    result: dict[str, Any] | None = None
    error: str | None = None


class MasterRecord(BaseModel):
    sha256: str
    size_bytes: int
    masters_key: str
    version_id: str | None
    etag: str | None
    retention_mode: str
    retain_until: str | None
    source_staging_key: str
    promoted_at: str | None
    last_verified_at: str | None
    assets: list[str]
    preview_status: Status


class PreviewTrigger(BaseModel):
    sha: str = Field(max_length=200)
    wait_s: float = Field(
        default=0,
        ge=0,
        le=30,
        description="wait up to this long (capped by the server) for a playable preview "
        "(its manifest_url) before answering 202; players send it to start the moment the "
        "first rendition exists",
    )


class PreviewReady(BaseModel):
    status: Literal["ready"]
    manifest_url: str
    # The grant to watch this sha (also set as a cookie for /previews/{sha}/): clients
    # without cookies add ?grant= to each preview URL. Expires at grant_expires_at (Unix s).
    grant: str | None = None
    grant_expires_at: int | None = None


class PreviewAccepted(BaseModel):
    status: Literal["queued", "building", "failed"]
    flow_run_id: str | None
    retry_after_s: int
    error: str | None = None
    playable: bool = False  # a multivariant playlist exists (the first rendition's): play it now
    manifest_url: str | None = None
    grant: str | None = None
    grant_expires_at: int | None = None


class PreviewStatus(BaseModel):
    status: Status
    progress: float | None = None
    error: str | None = None
    flow_run_id: str | None = None
    attempts: int = 0
    manifest_url: str | None = None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class NotReady(BaseModel):
    detail: str
    checks: dict[str, str]


# --- documents attached to assets (api/routes/documents.py) ---


class DocumentCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=1024)
    size_bytes: int = Field(gt=0)
    content_type: str | None = Field(default=None, max_length=255)
    # Optional: when given, completing the upload refuses bytes with another digest.
    sha256: str | None = Field(default=None, max_length=100)


class DocumentUpload(BaseModel):
    document_id: str
    key: str
    url: str  # PUT the bytes here with these headers
    headers: dict[str, str]
    expires_at: datetime
    max_bytes: int


class DocumentInfo(BaseModel):
    document_id: str
    asset_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str | None
    state: Literal["pending", "ready"]
    uploaded_at: datetime | None


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class DocumentLink(DocumentInfo):
    url: str  # a presigned GET, valid until expires_at
    expires_at: datetime
