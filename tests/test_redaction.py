"""dailies/redaction.py: the values of secret-bearing query parameters become REDACTED, and
nothing else changes. Pure; the stack-wide check is security/test_secrets_in_logs.py."""

from __future__ import annotations

import pytest

from dailies.redaction import REDACTED, redact_probe, redact_secrets

SIGNED = (
    "http://127.0.0.1:9000/masters/ab/abcd?versionId=v1&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261207T101010Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE&X-Amz-Signature=0123abcd"
)
GRANT = "1796000000.0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ffprobe's words on a corrupt master read through a presigned URL
        (
            f"{SIGNED}: Invalid data found when processing input",
            "http://127.0.0.1:9000/masters/ab/abcd?versionId=v1"
            f"&X-Amz-Algorithm={REDACTED}&X-Amz-Credential={REDACTED}&X-Amz-Date={REDACTED}"
            f"&X-Amz-Expires={REDACTED}&X-Amz-SignedHeaders={REDACTED}"
            f"&X-Amz-Security-Token={REDACTED}&X-Amz-Signature={REDACTED}"
            ": Invalid data found when processing input",
        ),
        # ffmpeg quotes its input
        (
            "Input #0, mov,mp4, from 'http://h/k?X-Amz-Signature=ff00':",
            f"Input #0, mov,mp4, from 'http://h/k?X-Amz-Signature={REDACTED}':",
        ),
        # an edge request line with a grant, first and later in the query
        (
            f'"GET /previews/x/a.m4s?grant={GRANT} HTTP/1.1"',
            f'"GET /previews/x/a.m4s?grant={REDACTED} HTTP/1.1"',
        ),
        (f"/p?a=1&grant={GRANT}&b=2", f"/p?a=1&grant={REDACTED}&b=2"),
        # names in any case; SigV2 query auth; an encoded URL inside another
        ("?x-amz-signature=abc", f"?x-amz-signature={REDACTED}"),
        (
            "?AWSAccessKeyId=AKIA&Signature=abc%3D&Expires=1",
            f"?AWSAccessKeyId={REDACTED}&Signature={REDACTED}&Expires=1",
        ),
        ("next=%2Fk%3FX-Amz-Signature%3Dabc", "next=%2Fk%3FX-Amz-Signature%3DREDACTED"),
        # left alone: no secret, a word that only ends in "grant", an empty value
        ("a master kept without a probe", "a master kept without a probe"),
        ("?regrant=5&immigrant=1", "?regrant=5&immigrant=1"),
        ("?grant=&x=1", "?grant=&x=1"),
    ],
)
def test_secret_query_values_are_redacted_and_nothing_else(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


def test_redacting_twice_changes_nothing_more() -> None:
    once = redact_secrets(SIGNED)
    assert redact_secrets(once) == once
    assert "0123abcd" not in once and "AKIAEXAMPLE" not in once


def test_a_probes_filename_is_redacted_and_the_rest_kept() -> None:
    probe = {"format": {"filename": SIGNED, "duration": "3.0"}, "streams": [{"index": 0}]}
    redacted = redact_probe(probe)
    assert redacted["format"]["filename"] == redact_secrets(SIGNED)
    assert redacted["format"]["duration"] == "3.0" and redacted["streams"] == probe["streams"]
    assert probe["format"]["filename"] == SIGNED  # the caller's dict is not changed
    assert redact_probe({"streams": []}) == {"streams": []}
    assert redact_probe({"format": {"filename": "/scratch/master"}})["format"] == {
        "filename": "/scratch/master"
    }
