"""`dailies upload FILE`: stage a master as an editor's browser would, through the API
(POST /api/uploads, a PUT of each part to its presigned URL, POST …/complete), hashing the
file in the same pass, so that `dailies promote KEY SHA` can follow.

Resumable: a journal in DAILIES_HOME (the upload's id and key, each finished part's ETag) is
written after every part; run the same command again after an interruption and only the
missing parts are sent (fresh presigned URLs: the old ones may have expired). The journal
goes once the upload is complete.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from dailies.errors import DailiesError


class UploadFailed(DailiesError):
    """The API or the store refused a step: its answer, in one line."""


@dataclass(frozen=True)
class Staged:
    key: str
    sha256: str
    size_bytes: int
    resumed_parts: int  # parts a previous, interrupted run had sent already


def journal_path(state_dir: Path, path: Path) -> Path:
    """One journal per file version: its path, size and modification time."""
    stat = path.stat()
    identity = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
    return state_dir / f"{hashlib.sha256(identity).hexdigest()[:32]}.json"


def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.is_success:
        return dict(response.json()) if response.content else {}
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    raise UploadFailed(f"{what}: HTTP {response.status_code}: {str(detail)[:300]}")


def _parts(file: Any, part_size: int, count: int) -> Iterator[tuple[int, bytes]]:
    for number in range(1, count + 1):
        yield number, file.read(part_size)


def upload(
    path: Path,
    api: httpx.Client,
    state_dir: Path,
    on_progress: Callable[[int], None] = lambda _: None,
) -> Staged:
    """Send `path` (resuming its journal's upload if there is one); `on_progress(bytes)`
    after each part, sent or already there."""
    size = path.stat().st_size
    journal_file = journal_path(state_dir, path)
    journal = json.loads(journal_file.read_text()) if journal_file.exists() else None
    urls: dict[int, str] = {}
    if journal is None:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        started = _checked(
            api.post("/api/uploads", json={"filename": path.name, "size_bytes": size,
                                           "content_type": content_type}),
            "starting the upload",
        )  # fmt: skip
        journal = {key: started[key] for key in ("upload_id", "key", "part_size", "part_count")}
        journal["done"] = {}
        urls = {p["part_number"]: p["url"] for p in started["parts"]}
        state_dir.mkdir(parents=True, exist_ok=True)
        journal_file.write_text(json.dumps(journal))
    done: dict[str, str] = journal["done"]
    resumed = len(done)
    digest = hashlib.sha256()
    with path.open("rb") as file, httpx.Client(timeout=600) as store:
        for number, chunk in _parts(file, journal["part_size"], journal["part_count"]):
            digest.update(chunk)
            if str(number) not in done:
                url = urls.get(number) or _more_urls(api, journal, number, urls)
                sent = store.put(url, content=chunk)
                if not sent.is_success:
                    raise UploadFailed(f"part {number}: the store answered {sent.status_code}")
                done[str(number)] = sent.headers["ETag"]
                journal_file.write_text(json.dumps(journal))
            on_progress(len(chunk))
    parts = [
        {"part_number": int(n), "etag": etag}
        for n, etag in sorted(done.items(), key=lambda i: int(i[0]))
    ]
    _checked(
        api.post(f"/api/uploads/{journal['upload_id']}/complete",
                 json={"key": journal["key"], "parts": parts}),
        "completing the upload",
    )  # fmt: skip
    journal_file.unlink(missing_ok=True)
    return Staged(journal["key"], digest.hexdigest(), size, resumed)


def _more_urls(api: httpx.Client, journal: dict[str, Any], first: int, urls: dict[int, str]) -> str:
    page = _checked(
        api.post(f"/api/uploads/{journal['upload_id']}/parts",
                 json={"key": journal["key"], "first": first}),
        "asking for part URLs",
    )  # fmt: skip
    urls.update({p["part_number"]: p["url"] for p in page["parts"]})
    return urls[first]
