"""moto's S3 server with its request log redacted: werkzeug logs every request line, and a
presigned URL's line carries its signature (`python -m ops.moto_server`, moto's arguments)."""

from __future__ import annotations

import logging
import sys

from dailies.redaction import redact_secrets


class RedactingFilter(logging.Filter):
    """Rewrites each record's text with redact_secrets before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact_secrets(record.getMessage()), None
        return True


def main(argv: list[str]) -> None:
    from moto.server import main as moto_main

    logging.getLogger("werkzeug").addFilter(RedactingFilter())
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
