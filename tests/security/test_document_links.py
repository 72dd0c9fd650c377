"""A document link cannot be re-typed. Issue 25: the presigned GET a reviewer opens is on the
store's origin, and a link given `response-content-type=text/html` served the editor's bytes
as a page there. The API signs the type and an `attachment` disposition into the link (SigV4
signs every query parameter); a store that verifies signatures (Ceph RGW, as AWS) refuses
any change to them. moto checks no signature at all (README, "Two stores"), so the refusal
is asserted on RGW; what is served from the link as given is asserted on both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from tests.api.conftest import _client, store_api_url, store_editor  # noqa: F401 - fixtures
from tests.api.test_documents import attach, make_asset
from tests.stores import both_stores

# What an attacker would have the store serve as a page: it must come back as text, saved.
PAGE = b"<!doctype html><script>fetch('/docs/?list-type=2')</script>\n"


@pytest.fixture
def store_reviewer(store_api_url: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:  # noqa: F811
    with _client(store_api_url, tokens["reviewer"]) as client:
        yield client


def _opened_link(editor: httpx.Client, reviewer: httpx.Client, stack: Any) -> str:
    asset_id, _ = make_asset(stack, editor)
    done = attach(editor, asset_id, PAGE, content_type="text/plain", filename="notes.html")
    assert done["state"] == "ready", done
    opened = reviewer.get(f"/api/documents/{done['document_id']}")
    assert opened.status_code == 200, opened.text
    return str(opened.json()["url"])


def _with_query(url: str, change: dict[str, str | None], extra: str = "") -> str:
    """The link with query parameters replaced (None: removed), and `extra` appended."""
    parts = urlsplit(url)
    query = [(k, change.get(k, v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = urlencode([(k, v) for k, v in query if v is not None])
    return urlunsplit(parts._replace(query=kept + extra))


@both_stores
def test_a_document_link_serves_its_signed_type_as_an_attachment(
    store: str,
    store_editor: httpx.Client,  # noqa: F811
    store_reviewer: httpx.Client,
    stack: Any,
) -> None:
    url = _opened_link(store_editor, store_reviewer, stack)
    signed = dict(parse_qsl(urlsplit(url).query))
    assert signed["response-content-type"] == "text/plain"
    assert signed["response-content-disposition"] == 'attachment; filename="notes.html"'

    served = httpx.get(url)

    assert served.status_code == 200, served.text
    assert served.content == PAGE
    assert served.headers["content-type"] == "text/plain"
    assert served.headers["content-disposition"] == 'attachment; filename="notes.html"'


# Each change an attacker would make to a link before handing it on.
TAMPERED = {
    "retyped as html": ({"response-content-type": "text/html"}, ""),
    "shown inline": ({"response-content-disposition": "inline"}, ""),
    "disposition removed": ({"response-content-disposition": None}, ""),
    "type removed": ({"response-content-type": None}, ""),
    "type added again": ({}, "&response-content-type=text%2Fhtml"),
}


@pytest.mark.parametrize("store", [pytest.param("rgw", marks=pytest.mark.rgw)], indirect=True)
@pytest.mark.parametrize("tamper", TAMPERED.values(), ids=TAMPERED.keys())
def test_retyping_a_document_link_with_response_content_type_is_refused_by_the_store(
    store: str,
    store_editor: httpx.Client,  # noqa: F811
    store_reviewer: httpx.Client,
    stack: Any,
    tamper: tuple[dict[str, str | None], str],
) -> None:
    url = _opened_link(store_editor, store_reviewer, stack)
    tampered = _with_query(url, *tamper)
    assert tampered != url

    refused = httpx.get(tampered)

    assert refused.status_code == 403, (refused.headers, refused.text)
    assert b"SignatureDoesNotMatch" in refused.content
    assert PAGE not in refused.content
    # The link as the API gave it, and re-encoded as the tampering re-encodes it, still
    # opens: what was refused is the change alone.
    for same in (url, _with_query(url, {})):
        assert httpx.get(same).headers["content-type"] == "text/plain"
