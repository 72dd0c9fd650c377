"""The docs bucket: presigned PUTs for editors, short-lived presigned GETs for reviewers, and
the server's own read of an upload to record its sha256."""

from __future__ import annotations

from typing import Any

from dailies.hashing import sha256_of_chunks
from dailies.settings import MiB, Settings
from dailies.storage.objects import head, iter_object


def presign_put(
    s3: Any, settings: Settings, key: str, content_type: str, size_bytes: int
) -> tuple[str, dict[str, str]]:
    """A PUT URL for exactly this key; the Content-Type is signed, so the client must send
    the declared one (the size is checked when the upload is completed)."""
    url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": settings.docs_bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=settings.docs_upload_expiry_s,
    )
    return str(url), {"Content-Type": content_type}


def presign_get(s3: Any, settings: Settings, key: str, content_type: str, disposition: str) -> str:
    """A GET URL that serves the object as `content_type`, with `disposition`. Both ride in
    the query string as response-* overrides, which SigV4 signs like every other query
    parameter: a link re-typed (response-content-type=text/html) or stripped of its
    disposition no longer matches its signature, and a verifying store refuses it (403)."""
    return str(
        s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": settings.docs_bucket,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=settings.docs_open_expiry_s,
        )
    )


def stored_size(s3: Any, settings: Settings, key: str) -> int | None:
    found = head(s3, settings.docs_bucket, key)
    return int(found["ContentLength"]) if found is not None else None


def hash_document(s3: Any, settings: Settings, key: str) -> tuple[str, int]:
    """(sha256, bytes) of what S3 holds: recorded from the bytes, not from the client's word."""
    return sha256_of_chunks(iter_object(s3, settings.docs_bucket, key, 8 * MiB))


def delete_document(s3: Any, settings: Settings, key: str) -> None:
    s3.delete_object(Bucket=settings.docs_bucket, Key=key)
