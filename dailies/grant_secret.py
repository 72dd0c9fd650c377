"""The key the API signs preview grants with and the edge checks them with: the
`DAILIES_PREVIEW_GRANT_SECRET` setting, else a random one kept in `{home}/grant-secret`
(made on first use, so `dailies up`, bootstrap, the API and the edge of one home agree)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dailies.settings import Settings

FILE_NAME = "grant-secret"


def grant_secret(settings: Settings) -> bytes:
    if settings.preview_grant_secret is not None:
        return settings.preview_grant_secret.get_secret_value().encode()
    path = Path(settings.home) / FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: link fails when the name exists, so when two
    # processes start at once one key wins and nobody reads a half-written file.
    spare = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    try:
        os.link(spare, path)
    except FileExistsError:
        pass
    finally:
        spare.unlink()
    return _read(path)


def _read(path: Path) -> bytes:
    return path.read_text().strip().encode()
