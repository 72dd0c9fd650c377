"""Request and response bodies: the OpenAPI schema clients (and schemathesis) check."""

from __future__ import annotations

import operator
from datetime import datetime
from functools import reduce
from types import UnionType
from typing import Any, Literal, get_args, get_type_hints

from pydantic import BaseModel, Field, create_model

from dailies.db.previews import PreviewStatus
from dailies.handoffs import MasterRecord


class ErrorOut(BaseModel):
    # A string from our handlers; FastAPI's request validation gives a list of problems.
    detail: str | list[dict[str, Any]]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut} for status in statuses}


# Every authenticated route can answer these (400: a body that is not JSON at all).
AUTH_ERRORS = (400, 401, 403, 422, 429, 503)


class UploadCreateBody(BaseModel):
    filename: str = Field(min_length=1, max_length=1024)
    size_bytes: int = Field(gt=0)
    content_type: str | None = Field(default=None, max_length=255)


class PartUrlOut(BaseModel):
    part_number: int
    url: str


class UploadStartedOut(BaseModel):
    upload_id: str
    key: str
    part_size: int
    part_count: int
    parts: list[PartUrlOut]  # the first page; ask POST /api/uploads/{id}/parts for the rest
    next_part_number: int | None  # where the next page starts; None when all are here
    expires_at: datetime


class PartsBody(BaseModel):
    key: str = Field(min_length=1, max_length=1024)
    first: int = Field(ge=1, le=10_000)


class PartsPageOut(BaseModel):
    parts: list[PartUrlOut]
    next_part_number: int | None
    expires_at: datetime


class PartDoneBody(BaseModel):
    part_number: int = Field(ge=1, le=10_000)
    # What S3 sent back for the part's PUT: printable ASCII, quoted or not. Anything else
    # cannot be a part's ETag, and S3 answers a control character with a 500.
    etag: str = Field(min_length=1, max_length=256, pattern=r'^"?[\x21\x23-\x7e]+"?$')


class UploadCompleteBody(BaseModel):
    key: str = Field(min_length=1, max_length=1024)
    parts: list[PartDoneBody] = Field(min_length=1, max_length=10_000)


class UploadCompletedOut(BaseModel):
    key: str
    size_bytes: int


class PromotionCreateBody(BaseModel):
    staging_key: str = Field(min_length=1, max_length=1024)
    sha256: str = Field(min_length=1, max_length=200)
    asset: dict[str, Any] | None = None


class PromotionStartedOut(BaseModel):
    flow_run_id: str
    sha256: str


class PromotionStatusOut(BaseModel):
    state: str  # Prefect's state type, lower case: scheduled, running, completed, failed...
    state_name: str | None = None  # Prefect's finer name: Late, AwaitingRetry...
    result: dict[str, Any] | None = None
    error: str | None = None


def _as_json(hint: Any) -> Any:
    """A field's type in MasterRecord.as_dict(): datetimes there are isoformat strings."""
    if hint is datetime:
        return str
    if isinstance(hint, UnionType):
        return reduce(operator.or_, (_as_json(arg) for arg in get_args(hint)))
    return hint


# The catalog row as MasterRecord.as_dict() writes it (its fields, in its order: one list
# of them, in dailies/handoffs.py), then the assets pointing at it and its preview's status.
_MASTER_FIELDS: dict[str, Any] = {
    **{name: (_as_json(hint), ...) for name, hint in get_type_hints(MasterRecord).items()},
    "assets": (list[str], ...),
    "preview_status": (PreviewStatus, ...),
}
MasterOut = create_model("MasterOut", **_MASTER_FIELDS)
# A catalog row alone, for the masters listing.
MasterRowOut = create_model(
    "MasterRowOut",
    **{k: v for k, v in _MASTER_FIELDS.items() if k not in {"assets", "preview_status"}},
)


class MastersPageOut(BaseModel):
    masters: list[MasterRowOut]  # type: ignore[valid-type]
    next_after: str | None = Field(
        description="pass as ?after= for the next page; null on the last page"
    )


class AuditFindingOut(BaseModel):
    id: int
    kind: str
    key: str
    sha256: str | None
    detail: str
    critical: bool


class AuditFindingsPageOut(BaseModel):
    run_id: int
    status: str
    findings_by_kind: dict[str, int]
    findings: list[AuditFindingOut]
    next_after: int | None = Field(
        description="pass as ?after= for the next page; null on the last page"
    )


class PreviewTriggerBody(BaseModel):
    sha: str = Field(max_length=200)
    wait_s: float = Field(
        default=0,
        ge=0,
        le=30,
        description="wait up to this long (capped by the server) for a playable preview "
        "(its manifest_url) before answering 202; players send it to start the moment the "
        "first rendition exists",
    )


class PreviewReadyOut(BaseModel):
    status: Literal["ready"]
    manifest_url: str
    # The grant to watch this sha (also set as a cookie for /previews/{sha}/): clients
    # without cookies add ?grant= to each preview URL. Expires at grant_expires_at (Unix s).
    grant: str | None = None
    grant_expires_at: int | None = None


class PreviewAcceptedOut(BaseModel):
    status: Literal["queued", "building", "failed"]
    flow_run_id: str | None
    retry_after_s: int
    error: str | None = None
    playable: bool = False  # a multivariant playlist exists (the first rendition's): play it now
    manifest_url: str | None = None
    grant: str | None = None
    grant_expires_at: int | None = None


class PreviewStatusOut(BaseModel):
    status: PreviewStatus
    progress: float | None = None
    error: str | None = None
    flow_run_id: str | None = None
    attempts: int = 0
    manifest_url: str | None = None


class HealthOut(BaseModel):
    status: str


class ReadinessOut(BaseModel):
    status: str
    checks: dict[str, str]


class NotReadyOut(BaseModel):
    detail: str
    checks: dict[str, str]


# --- documents attached to assets (api/routes/documents.py) ---


class DocumentCreateBody(BaseModel):
    filename: str = Field(min_length=1, max_length=1024)
    size_bytes: int = Field(gt=0)
    content_type: str | None = Field(default=None, max_length=255)
    # Optional: when given, completing the upload refuses bytes with another digest.
    sha256: str | None = Field(default=None, max_length=100)


class DocumentUploadOut(BaseModel):
    document_id: str
    key: str
    url: str  # PUT the bytes here with these headers
    headers: dict[str, str]
    expires_at: datetime
    max_bytes: int


class DocumentOut(BaseModel):
    document_id: str
    asset_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str | None
    state: Literal["pending", "ready"]
    uploaded_at: datetime | None


class DocumentListOut(BaseModel):
    documents: list[DocumentOut]


class DocumentLinkOut(DocumentOut):
    url: str  # a presigned GET, valid until expires_at
    expires_at: datetime
