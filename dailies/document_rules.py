"""Documents attached to assets (call sheets, scripts, LUTs, camera reports): what may be
attached, where it goes in the docs bucket, and who may finish an upload. Pure."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from dailies.errors import InvalidRequest, UploadTooLarge
from dailies.hashing import normalize_sha256
from dailies.upload_rules import sanitize_filename, validate_content_type


@dataclass(frozen=True)
class DocumentRequest:
    filename: str
    content_type: str
    size_bytes: int
    sha256: str | None


def validate_document(
    filename: str,
    size_bytes: int,
    content_type: str | None,
    sha256: str | None,
    max_bytes: int,
    allowed_types: list[str],
) -> DocumentRequest:
    """A request to attach a document, checked against the limits; one-line reasons."""
    safe = sanitize_filename(filename)
    kind = validate_content_type(content_type).lower()
    if kind not in {t.lower() for t in allowed_types}:
        raise InvalidRequest(
            f"documents of type {kind} are not accepted; accepted: {', '.join(allowed_types)}"
        )
    if size_bytes < 1:
        raise InvalidRequest("a document must have at least one byte")
    if size_bytes > max_bytes:
        raise UploadTooLarge(f"the document is {size_bytes} bytes; at most {max_bytes}")
    return DocumentRequest(safe, kind, size_bytes, normalize_sha256(sha256) if sha256 else None)


def new_document_id() -> str:
    return secrets.token_hex(16)


def document_key(document_id: str, safe_filename: str) -> str:
    """Keys name the document, never the asset: asset ids are the editors' free text."""
    return f"documents/{document_id}/{safe_filename}"


def check_upload(
    request_size: int, stored_size: int | None, declared_sha: str | None, stored_sha: str
) -> None:
    """What S3 holds must be what was declared; otherwise the upload is refused."""
    if stored_size is None:
        raise InvalidRequest("nothing was uploaded to the document's URL yet")
    if stored_size != request_size:
        raise InvalidRequest(f"the upload has {stored_size} bytes; {request_size} were declared")
    if declared_sha is not None and declared_sha != stored_sha:
        raise InvalidRequest(f"the upload's sha256 is {stored_sha}; {declared_sha} was declared")


def content_disposition(filename: str) -> str:
    """A download under the editor's file name, never a page: the link is on the store's
    origin, where whatever a browser renders inline runs beside every other document link."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return f'attachment; filename="{ascii_name}"'
