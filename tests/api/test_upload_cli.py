"""`dailies upload FILE`: an editor's upload through the real API (presigned multipart parts
PUT to the store), hashed in the same pass, resumed after an interruption, then promoted by
`dailies promote` with what it printed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.settings import MiB
from ops.upload import journal_path, upload

DAILIES = str(Path(sys.executable).parent / "dailies")


class Interrupted(Exception):
    pass


def _master(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_an_interrupted_upload_resumes_with_the_missing_parts_only(
    api_url: str, tokens: dict[str, str], stack: Any, tmp_path: Path
) -> None:
    master = _master(tmp_path / "roll-a.mov", 12 * MiB + 17)  # 3 parts of 5 MiB
    state = tmp_path / "uploads"
    with httpx.Client(
        base_url=api_url, headers={"Authorization": f"Bearer {tokens['editor']}"}, timeout=60
    ) as api:
        sent: list[int] = []

        def stop_after_the_first_part(n: int) -> None:
            sent.append(n)
            raise Interrupted

        with pytest.raises(Interrupted):
            upload(master, api, state, stop_after_the_first_part)
        assert journal_path(state, master).exists() and sent == [5 * MiB]

    env = {**os.environ, "DAILIES_TOKEN": tokens["editor"], "DAILIES_HOME": str(tmp_path)}
    done = subprocess.run(
        [DAILIES, "upload", str(master), "--api", api_url],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    staged, next_step = done.stdout.strip().splitlines()
    sha = hashlib.sha256(master.read_bytes()).hexdigest()
    assert staged.endswith(f"part(s) from the interrupted run), sha256 {sha}"), staged
    assert staged.startswith("staged uploads/") and "1 part(s)" in staged
    key = staged.split()[1]
    assert next_step == f"next: uv run dailies promote {key} {sha}"
    assert not journal_path(state, master).exists()
    from dailies.clients import s3_client

    body = s3_client(stack).get_object(Bucket=stack.staging_bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha  # every part, in order, once

    # what it printed is what `dailies promote` takes (here in its own process: --local)
    promoted = subprocess.run(
        [DAILIES, "promote", key, sha, "--local"], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.startswith(f"promoted: s3://{stack.masters_bucket}/{sha} "), (
        promoted.stdout
    )


def test_upload_refusals_are_one_line(api_url: str, tmp_path: Path) -> None:
    master = _master(tmp_path / "x.mov", 10)
    env = {k: v for k, v in os.environ.items() if k != "DAILIES_TOKEN"}
    cases = [
        ([str(tmp_path / "missing.mov")], "no such file"),
        ([str(master)], "an editor key is needed"),
        ([str(master), "--token", "dly_nope"], "upload failed: starting the upload: HTTP 401"),
    ]
    for args, says in cases:
        done = subprocess.run(
            [DAILIES, "upload", *args, "--api", api_url], env=env, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
