"""Issue 25, item 4: odd JSON gave a 500. The probe sent `NaN`, `Infinity` and `1e400` in
numeric fields and a lone surrogate in a filename to uploads, documents and preview: Python's
json read them, and the 422 that quoted them could not be written. Each is now refused as
malformed JSON (422, `json_invalid`, the field named), before any route runs; the rules are
tested apart below. The fuzz test sends them to every operation (api/test_schema_fuzz.py)."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from api.json_body import json_safe, unrepresentable
from tests.api.test_documents import make_asset

NON_FINITE = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"]
# The escape, and the same surrogate as raw UTF-8 bytes (which Python's json also reads).
SURROGATES = [b'"\\ud800.mov"', b'"\xed\xa0\x80.mov"', b'"clip\\udfff.mov"']


def send(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def assert_refused(response: httpx.Response, field: str, words: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    (problem,) = response.json()["detail"]
    assert problem["type"] == "json_invalid"
    assert problem["ctx"]["error"].startswith(f"body.{field}: "), problem
    assert words in problem["ctx"]["error"], problem


def _targets(stack: Any, editor: httpx.Client) -> list[tuple[str, bytes, str]]:
    """(path, body with a {} hole for the value, the field it lands in): the probe's three
    routes, and a promotion's free-form asset (which went on to Prefect's parameters)."""
    asset_id, _ = make_asset(stack, editor)
    return [
        ("/api/uploads", b'{"filename": "a.mov", "size_bytes": {}}', "size_bytes"),
        (f"/api/assets/{asset_id}/documents",
         b'{"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": {}}',
         "size_bytes"),
        ("/api/preview", b'{"sha": "' + b"a" * 64 + b'", "wait_s": {}}', "wait_s"),
        ("/api/promotions", b'{"staging_key": "uploads/' + b"0" * 32 + b'/a.mov", "sha256": "'
         + b"a" * 64 + b'", "asset": {"asset_id": "SHOT_1", "fps": {}}}', "asset.fps"),
    ]  # fmt: skip


@pytest.mark.parametrize("number", NON_FINITE)
def test_non_finite_numbers_are_422(editor: httpx.Client, stack: Any, number: bytes) -> None:
    for path, body, field in _targets(stack, editor):
        response = send(editor, path, body.replace(b"{}", number))
        assert_refused(response, field, "is not a JSON number")


@pytest.mark.parametrize("text", SURROGATES)
def test_lone_surrogates_are_422(editor: httpx.Client, stack: Any, text: bytes) -> None:
    for path, body, field in _targets(stack, editor):
        response = send(editor, path, body.replace(b"{}", text))
        assert_refused(response, field, "lone UTF-16 surrogate")
    # In the filename, where the probe put it, and in a key of the free-form asset.
    upload = b'{"filename": ' + text + b', "size_bytes": 10}'
    assert_refused(send(editor, "/api/uploads", upload), "filename", "surrogate")
    promotion = b'{"staging_key": "k", "sha256": "s", "asset": {' + text + b": 1}}"
    assert_refused(send(editor, "/api/promotions", promotion), "asset", "a key holds")


def test_finite_numbers_and_surrogate_pairs_still_pass(editor: httpx.Client) -> None:
    """The strict reading refuses only what JSON cannot carry: a finite number in any
    notation and a character outside the BMP escaped as its surrogate pair go through."""
    response = send(
        editor, "/api/uploads", b'{"filename": "\\ud835\\udc9c.mov", "size_bytes": 1e3}'
    )
    assert response.status_code == 201, response.text
    assert response.json()["key"].endswith("/\U0001d49c.mov")  # MATHEMATICAL SCRIPT CAPITAL A


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"a": [1, 2.5, "x", {"b": None}]}, None),
        ({"a": math.nan}, "body.a: NaN is not a JSON number"),
        ({"a": [0, {"b": -math.inf}]}, "body.a[1].b: -Infinity is not a JSON number"),
        ([math.inf], "body[0]: Infinity is not a JSON number"),
        ({"name": "x\ud800"}, "body.name: a lone UTF-16 surrogate"),
        ({"\udc00": 1}, "body: a key holds a lone UTF-16 surrogate"),
        ("\U0001d49c", None),  # a character outside the BMP is not a lone surrogate
    ],
)
def test_unrepresentable_names_the_first_value_json_cannot_carry(
    value: Any, found: str | None
) -> None:
    problem = unrepresentable(value)
    assert problem == found if found is None else (problem or "").startswith(found), problem


def test_an_error_answer_quoting_odd_input_can_always_be_written() -> None:
    """The 422 handler's guard, for input that reached a model by any other road."""
    quoted = [{"input": math.nan, "ctx": {"le": math.inf}, "loc": ["body", "x\ud800"]}]
    assert json_safe(quoted) == [
        {"input": "NaN", "ctx": {"le": "Infinity"}, "loc": ["body", "x\\ud800"]}
    ]
    assert json_safe({"ok": [1, 2.5, "é", None]}) == {"ok": [1, 2.5, "é", None]}


def test_a_body_nested_deeper_than_python_recurses_is_4xx(editor: httpx.Client) -> None:
    """A body nested past json's recursion limit is refused, not a 500 (within 1 MiB)."""
    deep = b'{"filename": "a.mov", "size_bytes": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = send(editor, "/api/uploads", deep)
    assert 400 <= response.status_code < 500 and "detail" in response.json(), response.text


def test_every_route_with_a_body_reads_it_strictly() -> None:
    """A router added without `route_class=StrictJsonRoute` would let NaN in again."""
    import importlib
    import pkgutil

    from fastapi.routing import APIRoute

    import api.routes
    from api.json_body import StrictJsonRoute

    routes = [
        route
        for module in pkgutil.iter_modules(api.routes.__path__)
        for route in importlib.import_module(f"api.routes.{module.name}").router.routes
    ]
    with_body = [r for r in routes if isinstance(r, APIRoute) and r.body_field is not None]
    assert len(with_body) >= 6
    assert [r.path for r in with_body if not isinstance(r, StrictJsonRoute)] == []
