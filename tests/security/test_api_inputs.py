"""Hostile input to the API: strings S3 cannot take are the client's mistake (422, never a
5xx), and large bodies without a token are refused before they are read."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from dailies.stack.processes import Service
from tests.edge.counting_origin import FakeApi

MiB = 1024**2
BIG = b"x" * (2 * MiB)


def _complete_one_part(editor: httpx.Client, part_number: int, etag: str) -> httpx.Response:
    """Start an upload and complete it with one part as given (no part was ever PUT)."""
    started = editor.post("/api/uploads", json={"filename": "A001.mov", "size_bytes": 6 * MiB})
    assert started.status_code == 201, started.text
    upload = started.json()
    return editor.post(
        f"/api/uploads/{upload['upload_id']}/complete",
        json={"key": upload["key"], "parts": [{"part_number": part_number, "etag": etag}]},
    )


@pytest.mark.parametrize(
    "etag",
    [
        '"abc\x01def"',
        '"abc\x7f"',
        "abc\ndef",
        '"\u00e9t\u00e9"',
        '"' + "a" * 300 + '"',
        "",
        '"a b"',
    ],
    ids=["control", "delete", "newline", "non-ascii", "too-long", "empty", "space"],
)
def test_etag_s3_cannot_take_is_a_422(editor: httpx.Client, etag: str) -> None:
    response = _complete_one_part(editor, 1, etag)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("part_number", [0, -1, 10_001, 2**31])
def test_part_number_outside_s3s_range_is_a_422(editor: httpx.Client, part_number: int) -> None:
    response = _complete_one_part(editor, part_number, '"e"')
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("etag", ['"9b2cf535f27731c974343645a3985328"', "9b2cf535f2773-2"])
def test_plausible_etags_reach_s3(editor: httpx.Client, etag: str) -> None:
    """Quoted or not: S3 answers for the part (here: no such part), not the validation."""
    response = _complete_one_part(editor, 1, etag)
    assert response.status_code == 422, response.text
    assert "S3 refused the parts" in response.json()["detail"]


def _post_big(base_url: str, path: str, body: bytes | Iterator[bytes]) -> tuple[int, float]:
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    return response.status_code, time.monotonic() - started


def test_large_body_without_a_token_is_refused_by_the_edge(
    edge: Service, fake_api: FakeApi
) -> None:
    status, elapsed = _post_big(edge.url, "/api/uploads", BIG)
    assert status == 413
    assert elapsed < 5
    assert not [seen for seen in fake_api.seen if seen[0] == "POST"]


def test_large_body_without_a_token_is_refused_by_the_api(api_url: str) -> None:
    status, elapsed = _post_big(api_url, "/api/uploads", BIG)
    assert status == 413
    assert elapsed < 5


def test_large_chunked_body_is_refused_by_the_api(api_url: str) -> None:
    """No Content-Length to check up front: counted as it arrives."""
    status, _ = _post_big(api_url, "/api/promotions", iter([b"x" * MiB] * 3))
    assert status == 413


def test_small_body_without_a_token_is_still_a_401(anonymous: httpx.Client) -> None:
    response = anonymous.post("/api/uploads", json={"filename": "a.mov", "size_bytes": 1})
    assert response.status_code == 401
