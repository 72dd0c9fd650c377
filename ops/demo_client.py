"""What a client of the stack does, over HTTP only: upload through presigned multipart,
promote, and ask the edge for a preview the way the player does (404 → POST /api/preview →
poll) until the preview is playable through the edge. Used by `dailies demo` and the bench."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from dailies.media.playlists import parse_media_playlist
from ops.errors import DemoFailure

FINAL_STATES = {"completed", "failed", "crashed", "cancelled"}
_MEDIA_URI = re.compile(r'URI="([^"]+)"')


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _fail(what: str, response: httpx.Response) -> DemoFailure:
    try:
        detail: Any = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text[:300]
    return DemoFailure(f"{what}: HTTP {response.status_code}: {detail}")


def upload(
    api: httpx.Client, token: str, path: Path, on_bytes: Callable[[int], None] = lambda _: None
) -> str:
    """Presigned multipart upload into staging; returns the staging key."""
    size = path.stat().st_size
    started = api.post(
        "/api/uploads",
        json={"filename": path.name, "size_bytes": size, "content_type": "video/mp4"},
        headers=_bearer(token),
    )
    if started.status_code != 201:
        raise _fail("starting the upload", started)
    body = started.json()
    parts = []
    page = body
    # Plain PUTs to the presigned URLs: the API never sees the bytes. URLs come in pages.
    with path.open("rb") as source, httpx.Client(timeout=120) as s3:
        while True:
            for part in page["parts"]:
                chunk = source.read(body["part_size"])
                put = s3.put(part["url"], content=chunk)
                if put.status_code != 200:
                    raise _fail(f"uploading part {part['part_number']}", put)
                parts.append({"part_number": part["part_number"], "etag": put.headers["ETag"]})
                on_bytes(len(chunk))
            if page.get("next_part_number") is None:
                break
            more = api.post(
                f"/api/uploads/{body['upload_id']}/parts",
                json={"key": body["key"], "first": page["next_part_number"]},
                headers=_bearer(token),
            )
            if more.status_code != 200:
                raise _fail("asking for more part URLs", more)
            page = more.json()
    done = api.post(
        f"/api/uploads/{body['upload_id']}/complete",
        json={"key": body["key"], "parts": parts},
        headers=_bearer(token),
    )
    if done.status_code != 200:
        raise _fail("completing the upload", done)
    return str(body["key"])


def promote(
    api: httpx.Client, token: str, key: str, sha256: str, timeout_s: float = 300
) -> tuple[str, dict[str, Any]]:
    """Launch the promotion flow through the API and wait for its run to end."""
    started = api.post(
        "/api/promotions", json={"staging_key": key, "sha256": sha256}, headers=_bearer(token)
    )
    if started.status_code != 202:
        raise _fail("starting the promotion", started)
    run_id = str(started.json()["flow_run_id"])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = api.get(f"/api/promotions/{run_id}", headers=_bearer(token))
        if status.status_code != 200:
            raise _fail("reading the promotion", status)
        body = status.json()
        if body["state"] == "completed":
            return run_id, dict(body.get("result") or {})
        if body["state"] in FINAL_STATES:
            raise DemoFailure(f"promotion {body['state']}: {body.get('error')}")
        time.sleep(0.25)
    raise DemoFailure(f"promotion run {run_id} did not finish within {timeout_s:.0f}s")


def media_playlists(multivariant: str) -> list[str]:
    """The first variant's playlist and the audio renditions' (EXT-X-MEDIA URI=…)."""
    lines = [line.strip() for line in multivariant.splitlines() if line.strip()]
    first_variant = next((line for line in lines if not line.startswith("#")), None)
    audio = [m.group(1) for line in lines if line.startswith("#EXT-X-MEDIA") for m in
             [_MEDIA_URI.search(line)] if m]  # fmt: skip
    return ([first_variant] if first_variant else []) + audio


def playable(edge: httpx.Client, sha256: str) -> bool:
    """What a player needs to start: the multivariant playlist, its media playlists, their
    init and first segments, all answering 200 through the edge."""
    multivariant_url = f"/previews/{sha256}/manifest.m3u8"
    multivariant = edge.get(multivariant_url)
    if multivariant.status_code != 200:
        return False
    playlists = media_playlists(multivariant.text)
    if not playlists:
        return False
    for uri in playlists:
        playlist_url = urljoin(multivariant_url, uri)
        playlist = edge.get(playlist_url)
        if playlist.status_code != 200:
            return False
        parsed = parse_media_playlist(playlist.text)
        if not parsed.segments:
            return False
        for part in filter(None, (parsed.map_uri, parsed.segments[0].uri)):
            if edge.get(urljoin(playlist_url, part)).status_code != 200:
                return False
    return True


@dataclass
class PreviewWait:
    """How the wait for a playable preview went (monotonic seconds)."""

    asked: float | None = None  # the first POST /api/preview sent
    requested: float | None = None  # POST /api/preview answered
    playable: float | None = None
    flow_run_id: str | None = None
    statuses: list[tuple[float, str, float | None]] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        if self.playable is None:
            return None
        return self.playable - (self.asked if self.asked is not None else self.playable)


def wait_playable(
    edge: httpx.Client,
    sha256: str,
    token: str,
    timeout_s: float = 300,
    poll_s: float = 0.1,
    on_status: Callable[[str, float | None], None] = lambda *_: None,
) -> PreviewWait:
    """The player's path through the edge: ask the API first (its answer carries the grant
    the edge wants for every preview object, kept by `edge`'s cookie jar), then check
    playability every `poll_s` and the API's status at the pace it asks for (retry_after_s)."""
    wait = PreviewWait(asked=time.monotonic())
    answer = edge.post("/api/preview", json={"sha": sha256}, headers=_bearer(token))
    wait.requested = time.monotonic()
    if answer.status_code not in (200, 202):
        raise _fail("requesting the preview", answer)
    body = answer.json()
    wait.flow_run_id = body.get("flow_run_id")
    next_status = time.monotonic() + float(body.get("retry_after_s") or 1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if playable(edge, sha256):
            wait.playable = time.monotonic()
            return wait
        if time.monotonic() >= next_status:
            status = edge.get(f"/api/preview/{sha256}", headers=_bearer(token))
            if status.status_code != 200:
                raise _fail("reading the preview status", status)
            body = status.json()
            wait.flow_run_id = body.get("flow_run_id") or wait.flow_run_id
            wait.statuses.append((time.monotonic(), body["status"], body.get("progress")))
            on_status(body["status"], body.get("progress"))
            if body["status"] == "failed":
                raise DemoFailure(f"the preview build failed: {body.get('error')}")
            next_status = time.monotonic() + float(body.get("retry_after_s") or 1)
        time.sleep(poll_s)
    raise DemoFailure(f"no playable preview through the edge within {timeout_s:.0f}s")
