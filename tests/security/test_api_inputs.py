"""Hostile input to the API: strings S3 cannot take are the client's mistake (422, never a
5xx), and bodies over 1 MiB (README: "/api/ takes bodies up to 1 MiB") are refused at the
edge and again in the API, a declared one before a byte of it is read; exactly 1 MiB passes
both."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import httpx
import pytest

from ops.processes import Service
from tests.edge.counting_origin import Origin, SeenRequest

MiB = 1024**2


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


def _exactly(size: int) -> bytes:
    """A JSON upload request padded to exactly `size` bytes: valid, so whoever is not the
    body limit answers for it (without a token: 401)."""
    head = b'{"filename": "a.mov", "size_bytes": 1, "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def _post(base_url: str, target: str, body: bytes, chunked: bool = False) -> httpx.Response:
    content = iter([body[i : i + 64 * 1024] for i in range(0, len(body), 64 * 1024)])
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return client.post(target, content=content if chunked else body, headers=headers)


def _declare_only(base_url: str, target: str, length: int) -> tuple[int, bytes]:
    """Send the headers of a POST with `length` declared and not one byte of its body. An
    answer proves the limit was applied to the header alone, before anything was read (a
    server that waited for the body would time out: the timeout is only a failure bound)."""
    conn = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=30)
    try:
        conn.putrequest("POST", target)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _posts_seen(api_seen: Origin, target: str) -> list[SeenRequest]:
    return [seen for seen in api_seen.seen if seen.method == "POST" and seen.target == target]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_1_mib_passes_the_edge_and_the_api(
    edge: Service, api_seen: Origin, chunked: bool
) -> None:
    target = f"/api/uploads?case=exactly-{int(chunked)}"
    answer = _post(edge.url, target, _exactly(MiB), chunked)
    assert answer.status_code == 401, answer.text  # the API's answer: past both limits
    [seen] = _posts_seen(api_seen, target)
    assert seen.headers["content-length"] == str(MiB)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_one_byte_over_1_mib_is_refused_by_the_edge(
    edge: Service, api_seen: Origin, chunked: bool
) -> None:
    target = f"/api/uploads?case=over-{int(chunked)}"
    answer = _post(edge.url, target, _exactly(MiB + 1), chunked)
    assert answer.status_code == 413
    assert answer.json() == {"detail": "request body too large"}
    assert not _posts_seen(api_seen, target)


def test_the_edge_refuses_a_declared_length_before_reading_the_body(
    edge: Service, api_seen: Origin
) -> None:
    status, body = _declare_only(edge.url, "/api/uploads?case=declared", MiB + 1)
    assert status == 413, body
    assert not _posts_seen(api_seen, "/api/uploads?case=declared")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_api_takes_exactly_1_mib_and_refuses_one_byte_more(api_url: str, chunked: bool) -> None:
    """Straight to the API (api/body_limit.py), no edge in front."""
    assert _post(api_url, "/api/uploads", _exactly(MiB), chunked).status_code == 401
    over = _post(api_url, "/api/uploads", _exactly(MiB + 1), chunked)
    assert over.status_code == 413
    assert over.json() == {"detail": f"request body over {MiB} bytes"}


def test_the_api_refuses_a_declared_length_before_reading_the_body(api_url: str) -> None:
    status, body = _declare_only(api_url, "/api/uploads", MiB + 1)
    assert status == 413, body
    # The limit is checked before the token: no token here, and still not a 401.
    assert _declare_only(api_url, "/api/promotions", MiB + 1)[0] == 413


def test_small_body_without_a_token_is_still_a_401(anonymous: httpx.Client) -> None:
    response = anonymous.post("/api/uploads", json={"filename": "a.mov", "size_bytes": 1})
    assert response.status_code == 401
