"""Pure rules of presigned multipart uploads into staging: safe names, part plans, keys.

No I/O here; the API's upload routes wrap these with boto3 calls.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid

from dailies.errors import InvalidRequest, UploadTooLarge
from dailies.promotion_rules import STAGING_PREFIX

MiB = 1024**2
GiB = 1024**3
S3_MIN_PART = 5 * MiB
S3_MAX_PART = 5 * GiB
S3_MAX_PARTS = 10_000
S3_MAX_OBJECT = 5 * 1024 * GiB

MAX_FILENAME_INPUT = 1024  # longer than any sane path: refuse rather than guess
MAX_FILENAME_BYTES = 200  # leaves room for uploads/{32 hex}/ well inside S3's 1024-byte keys
_UNSAFE = re.compile(r"[^\w.\- ()+,@=]", re.UNICODE)
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")


def sanitize_filename(filename: str) -> str:
    """The last path component, with unsafe characters replaced; refuse what cannot be saved.

    Control characters are refused (they are never an honest filename); directory parts
    ('../', '/', '\\') are dropped, so a name can never climb out of its upload's folder.
    """
    if not isinstance(filename, str) or not filename.strip():
        raise InvalidRequest("filename must be a non-empty string")
    if len(filename) > MAX_FILENAME_INPUT:
        raise InvalidRequest(
            f"filename is {len(filename)} characters; at most {MAX_FILENAME_INPUT}"
        )
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"} for c in filename):
        raise InvalidRequest("filename contains control or unassigned characters")
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name or set(name) <= {".", "_", " "}:
        raise InvalidRequest(f"filename {filename[:100]!r} has no usable characters")
    return _truncate_keeping_extension(name, MAX_FILENAME_BYTES)


def _truncate_keeping_extension(name: str, max_bytes: int) -> str:
    if len(name.encode()) <= max_bytes:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = max_bytes - len(suffix.encode())
    stem = stem.encode()[:budget].decode(errors="ignore")
    return f"{stem}{suffix}"


def validate_content_type(content_type: str | None) -> str:
    if content_type is None or content_type == "":
        return "application/octet-stream"
    if len(content_type) > 255 or not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidRequest(
            f"content_type must look like 'type/subtype', got {content_type[:100]!r}"
        )
    return content_type


def plan_part_size(size_bytes: int, preferred_part: int, max_upload_bytes: int) -> int:
    """A part size within S3's 5 MiB..5 GiB that covers the size in at most 10,000 parts."""
    if size_bytes <= 0:
        raise InvalidRequest("size_bytes must be positive")
    limit = min(max_upload_bytes, S3_MAX_OBJECT)
    if size_bytes > limit:
        raise UploadTooLarge(f"size_bytes {size_bytes} is over the maximum upload size {limit}")
    smallest_fitting = math.ceil(size_bytes / S3_MAX_PARTS)
    # Whole MiB parts keep the plan readable; the clamp keeps S3 happy.
    part = max(preferred_part, math.ceil(smallest_fitting / MiB) * MiB)
    return min(max(part, S3_MIN_PART), S3_MAX_PART)


def part_count(size_bytes: int, part_size: int) -> int:
    return max(1, math.ceil(size_bytes / part_size))


def new_upload_id() -> str:
    return uuid.uuid4().hex


def staging_key_for(upload_id: str, safe_filename: str) -> str:
    return f"{STAGING_PREFIX}{upload_id}/{safe_filename}"


def check_upload_key(upload_id: str, key: str) -> str:
    """The key must be exactly uploads/{upload_id}/{one safe name}: its own key, no other."""
    if not _UPLOAD_ID.fullmatch(upload_id or ""):
        raise InvalidRequest("upload_id must be 32 lowercase hexadecimal characters")
    prefix = staging_key_for(upload_id, "")
    if not isinstance(key, str) or not key.startswith(prefix):
        raise InvalidRequest(f"key must start with {prefix!r}")
    name = key[len(prefix) :]
    try:
        safe = sanitize_filename(name)
    except InvalidRequest as exc:
        raise InvalidRequest(f"key {key[:200]!r} does not name an upload: {exc}") from exc
    if safe != name:
        raise InvalidRequest(f"key {key[:200]!r} is not a key this API issued")
    return key


def may_act_on(owner_key_id: int | None, key_id: int, role: str) -> bool:
    """An upload (or an asset) is its owner's; admins may act on anyone's."""
    return role == "admin" or (owner_key_id is not None and owner_key_id == key_id)


def part_page(part_count: int, first: int, page: int) -> range:
    """Part numbers to presign in one call: at most `page`, from `first`, within the upload."""
    if first < 1 or first > part_count:
        raise InvalidRequest(f"first must be a part number from 1 to {part_count}, got {first}")
    return range(first, min(part_count, first + page - 1) + 1)
