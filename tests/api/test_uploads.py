"""Presigned multipart uploads through a real uvicorn, parts PUT straight to moto."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx

from tests.stores import both_stores

MiB = 1024**2


def start(editor: httpx.Client, size: int, filename: str = "A001C003.mov") -> dict[str, Any]:
    response = editor.post(
        "/api/uploads",
        json={"filename": filename, "size_bytes": size, "content_type": "video/quicktime"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def put_parts(upload: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    """Plain HTTP PUTs of each part to its presigned URL: no S3 SDK, no credentials."""
    size = upload["part_size"]
    done = []
    for part in upload["parts"]:
        n = part["part_number"]
        chunk = data[(n - 1) * size : n * size]
        response = httpx.put(part["url"], content=chunk, timeout=60)
        assert response.status_code == 200, response.text
        done.append({"part_number": n, "etag": response.headers["etag"]})
    return done


def upload_file(editor: httpx.Client, data: bytes, filename: str = "A001C003.mov") -> str:
    upload = start(editor, len(data), filename)
    parts = put_parts(upload, data)
    response = editor.post(
        f"/api/uploads/{upload['upload_id']}/complete", json={"key": upload["key"], "parts": parts}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"key": upload["key"], "size_bytes": len(data)}
    return str(upload["key"])


@both_stores
def test_presigned_multipart_upload_lands_in_staging(store_editor: httpx.Client, s3: Any) -> None:
    editor = store_editor
    data = os.urandom(11 * MiB + 123)
    upload = start(editor, len(data), "../../day 1/A001C003.mov")
    assert upload["key"] == f"uploads/{upload['upload_id']}/A001C003.mov"
    assert upload["part_size"] == 5 * MiB and len(upload["parts"]) == 3
    assert upload["expires_at"]

    parts = put_parts(upload, data)
    complete = {"key": upload["key"], "parts": parts}
    path = f"/api/uploads/{upload['upload_id']}/complete"
    assert editor.post(path, json=complete).status_code == 200
    again = editor.post(path, json=complete)  # a retry after a lost answer is harmless
    assert again.status_code == 200 and again.json()["size_bytes"] == len(data)

    body = s3.get_object(Bucket="staging", Key=upload["key"])["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()


def test_presigned_urls_are_sigv4_bound_to_key_upload_and_part(editor: httpx.Client) -> None:
    # moto does not verify signatures, so check what S3 verifies: a SigV4 query signature
    # covers the method, the path (bucket and key) and every query parameter. RGW does verify:
    # test_an_api_part_url_is_refused_once_expired_or_moved below, and test_store_rules.py.
    upload = start(editor, 11 * MiB)
    for part in upload["parts"]:
        url = httpx.URL(part["url"])
        assert url.path == f"/staging/{upload['key']}"
        assert url.params["partNumber"] == str(part["part_number"])
        assert url.params["uploadId"]
        assert url.params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        assert url.params["X-Amz-SignedHeaders"] == "host"
        assert int(url.params["X-Amz-Expires"]) <= 3600


def test_abort_drops_the_upload(editor: httpx.Client) -> None:
    upload = start(editor, 6 * MiB)
    path = f"/api/uploads/{upload['upload_id']}"
    assert editor.delete(path, params={"key": upload["key"]}).status_code == 204
    assert editor.delete(path, params={"key": upload["key"]}).status_code == 404
    complete = {"key": upload["key"], "parts": [{"part_number": 1, "etag": '"x"'}]}
    assert editor.post(f"{path}/complete", json=complete).status_code == 404


def test_upload_refusals(editor: httpx.Client) -> None:
    too_big = editor.post("/api/uploads", json={"filename": "a.mov", "size_bytes": 3 * 1024**3})
    assert too_big.status_code == 413
    for body in (
        {"filename": "a\x00.mov", "size_bytes": 10},
        {"filename": "..", "size_bytes": 10},
        {"filename": "x" * 2000, "size_bytes": 10},
        {"filename": "a.mov", "size_bytes": 0},
        {"filename": "a.mov", "size_bytes": 10, "content_type": "not a type"},
    ):
        response = editor.post("/api/uploads", json=body)
        assert response.status_code == 422, (body, response.text)
        assert "detail" in response.json()


def test_complete_refuses_another_uploads_key_and_bad_parts(editor: httpx.Client) -> None:
    upload = start(editor, 6 * MiB)
    other = start(editor, 6 * MiB)
    path = f"/api/uploads/{upload['upload_id']}/complete"
    parts = [{"part_number": 1, "etag": '"0"'}]
    assert editor.post(path, json={"key": other["key"], "parts": parts}).status_code == 422
    assert editor.post(path, json={"key": upload["key"], "parts": parts}).status_code == 422
    twice = parts + parts
    assert editor.post(path, json={"key": upload["key"], "parts": twice}).status_code == 422
    assert editor.delete("/api/uploads/not-an-id", params={"key": upload["key"]}).status_code == 422


def test_a_different_size_than_declared_is_refused_and_removed(
    editor: httpx.Client, s3: Any
) -> None:
    upload = start(editor, 6 * MiB)
    parts = put_parts({**upload, "parts": upload["parts"][:1]}, os.urandom(1000))
    path = f"/api/uploads/{upload['upload_id']}/complete"
    response = editor.post(path, json={"key": upload["key"], "parts": parts})
    assert response.status_code == 422 and "declared" in response.json()["detail"]
    assert s3.list_objects_v2(Bucket="staging", Prefix=upload["key"]).get("KeyCount") == 0


@both_stores
def test_an_api_part_url_is_refused_for_another_part_or_tampered(
    store: str, store_editor: httpx.Client
) -> None:
    """A part URL from POST /api/uploads used for another part, or with its signature
    altered: RGW answers 403 (as AWS does); moto accepts both, checking no signature.
    Expired URLs: test_store_rules.py::test_presigned_part_urls_expired_or_tampered."""
    upload = start(store_editor, 6 * MiB)
    first, second = upload["parts"]
    signature = httpx.URL(second["url"]).params["X-Amz-Signature"]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    body = b"x" * 1024
    answers = {
        "moved": httpx.put(first["url"].replace("partNumber=1", "partNumber=2"), content=body),
        "tampered": httpx.put(second["url"].replace(signature, flipped), content=body),
        "as signed": httpx.put(second["url"], content=body),
    }
    refused = {"moto": 200, "rgw": 403}[store]
    codes = {name: response.status_code for name, response in answers.items()}
    assert codes == {"moved": refused, "tampered": refused, "as signed": 200}
