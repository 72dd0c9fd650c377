"""Secrets out of text that is about to be kept: presigned S3 query strings and edge grants.

A presigned URL is a bearer credential until it expires (hours for a preview's master), and a
grant is one for watching a sha; both travel inside URLs, and URLs end up in ffmpeg's and
ffprobe's words, in ffprobe's JSON (`format.filename`), and so in logs, Prefect's records and
the catalog. Pure: callers apply it where such text is made (dailies/media/runner.py, the
moto wrapper in ops/); edge/njs/dailies.js does the same for the edge's access log.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "REDACTED"

# Query parameters whose value is a credential or lets one be used: every X-Amz-* of SigV4
# query auth (Signature, Credential, Security-Token; the rest are harmless but redacting the
# family is simpler to trust), SigV2's Signature/AWSAccessKeyId, and the edge's grant. The
# name must start a parameter (after ?, &, whitespace, a quote or the start) so a word that
# merely ends in "grant" is left alone; the %-escapes cover a URL nested, encoded, inside
# another (its value then runs to the next real separator: more redacted, never less).
_SECRET_PARAM = re.compile(
    r"(?i)(?P<name>(?:^|(?<=[?&;\s'\"(])|(?<=%3f)|(?<=%26))"
    r"(?:x-amz-[a-z0-9-]+|signature|awsaccesskeyid|grant)"
    # The value ends at a separator, or at the ": " ffmpeg puts after a URL it names.
    r"(?:=|%3d))(?P<value>(?:[^&\s'\"<>):]|:(?!\s|$))+)"
)


def redact_secrets(text: str) -> str:
    """`text` with the value of every secret-bearing query parameter replaced by REDACTED."""
    return _SECRET_PARAM.sub(lambda m: f"{m['name']}{REDACTED}", text)


def redact_probe(data: dict[str, Any]) -> dict[str, Any]:
    """ffprobe's JSON with its `format.filename` redacted: that is the URL it read, and the
    JSON is kept in the catalog and handed between tasks. The rest is facts about the media."""
    fmt = data.get("format")
    if not isinstance(fmt, dict) or not isinstance(fmt.get("filename"), str):
        return data
    return {**data, "format": {**fmt, "filename": redact_secrets(fmt["filename"])}}
