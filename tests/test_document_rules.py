"""Pure document rules: what may be attached, its key, the upload check, the download name.
The API routes over them (api/routes/documents.py) are tested end to end in tests/api."""

from __future__ import annotations

import re

import pytest

from dailies.document_rules import (
    DocumentRequest,
    check_upload,
    content_disposition,
    document_key,
    new_document_id,
    validate_document,
)
from dailies.errors import InvalidRequest, InvalidSha256, UploadTooLarge

TYPES = ["application/pdf", "Text/Plain"]
SHA = "ab" * 32


def document(**overrides: object) -> DocumentRequest:
    args: dict[str, object] = {
        "filename": "call sheet.pdf",
        "size_bytes": 10,
        "content_type": "application/pdf",
        "sha256": None,
        "max_bytes": 100,
        "allowed_types": TYPES,
    }
    return validate_document(**{**args, **overrides})  # type: ignore[arg-type]


def test_an_accepted_document_is_sanitized_and_normalised() -> None:
    request = document(filename="../day 1/Call Sheet.pdf", content_type="TEXT/plain",
                       sha256=SHA.upper())  # fmt: skip
    assert request == DocumentRequest("Call Sheet.pdf", "text/plain", 10, SHA)
    assert document(sha256="").sha256 is None


def test_a_type_not_accepted_is_refused_with_the_accepted_list() -> None:
    with pytest.raises(InvalidRequest) as refused:
        document(content_type="image/png")
    assert str(refused.value) == (
        "documents of type image/png are not accepted; accepted: application/pdf, Text/Plain"
    )
    # No content type is octet-stream, which this list does not accept either.
    with pytest.raises(InvalidRequest, match="application/octet-stream"):
        document(content_type=None)


@pytest.mark.parametrize(("size", "accepted"), [(0, False), (1, True), (100, True)])
def test_sizes_from_one_byte_to_the_limit_are_accepted(size: int, accepted: bool) -> None:
    if accepted:
        assert document(size_bytes=size).size_bytes == size
    else:
        with pytest.raises(InvalidRequest, match="^a document must have at least one byte$"):
            document(size_bytes=size)


def test_a_document_over_the_limit_is_too_large() -> None:
    with pytest.raises(UploadTooLarge, match=r"^the document is 101 bytes; at most 100$"):
        document(size_bytes=101)


def test_a_malformed_sha_is_refused() -> None:
    with pytest.raises(InvalidSha256):
        document(sha256="abc")


def test_ids_are_random_128_bit_hex() -> None:
    first, second = new_document_id(), new_document_id()
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_keys_name_the_document_not_the_asset() -> None:
    assert document_key("0f" * 16, "a.pdf") == f"documents/{'0f' * 16}/a.pdf"


@pytest.mark.parametrize(
    ("stored_size", "declared_sha", "stored_sha", "reason"),
    [
        (None, None, SHA, "nothing was uploaded to the document's URL yet"),
        (9, None, SHA, "the upload has 9 bytes; 10 were declared"),
        (10, "cd" * 32, SHA, f"the upload's sha256 is {SHA}; {'cd' * 32} was declared"),
    ],
)
def test_an_upload_unlike_its_declaration_is_refused(
    stored_size: int | None, declared_sha: str | None, stored_sha: str, reason: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_upload(10, stored_size, declared_sha, stored_sha)
    assert str(refused.value) == reason


def test_an_upload_like_its_declaration_passes() -> None:
    check_upload(10, 10, SHA, SHA)
    check_upload(10, 10, None, SHA)  # no sha declared: only the size is checked


def test_documents_download_as_attachments_under_an_ascii_name() -> None:
    assert (
        content_disposition('Plan "B" – día 2.pdf') == 'attachment; filename="Plan _B_ ? d?a 2.pdf"'
    )
