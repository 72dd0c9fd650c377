"""Publish an HLS encode while ffmpeg is still writing it.

Each poll reads every rendition's playlist (ffmpeg replaces it atomically), uploads the init
segment and any listed segments not yet uploaded, then the re-rendered playlist listing only
uploaded segments. The uploader is injected: this module never talks to S3 itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dailies.errors import PlaylistError
from dailies.media.commands.common import PLAYLIST_NAME
from dailies.media.playlists import (
    MediaPlaylist,
    parse_media_playlist,
    pinned_target_duration,
    render_media_playlist,
)
from dailies.previews.layout import rendition_key

# upload_file(local path, key, final) and upload_text(key, body, final)
UploadFile = Callable[[Path, str, bool], None]
UploadText = Callable[[str, str, bool], None]


@dataclass
class RenditionProgress:
    name: str
    uploaded: dict[str, int] = field(default_factory=dict)  # segment uri -> bytes
    init_uploaded: bool = False
    published: str | None = None
    playlist: MediaPlaylist | None = None

    @property
    def segments_uploaded(self) -> int:
        return len(self.uploaded)


class LivePublisher:
    def __init__(
        self,
        root: Path,
        renditions: Sequence[str],
        sha256: str,
        segment_s: float,
        upload_file: UploadFile,
        upload_text: UploadText,
        on_all_started: Callable[[], None] | None = None,
    ) -> None:
        self.root = root
        self.sha256 = sha256
        self.target = pinned_target_duration(segment_s)
        self.upload_file = upload_file
        self.upload_text = upload_text
        self.on_all_started = on_all_started
        self.renditions = {name: RenditionProgress(name) for name in renditions}
        self._started_fired = False
        self._lock = threading.Lock()

    def poll(self, final: bool = False) -> None:
        """One pass over every rendition; `final` once ffmpeg has exited successfully."""
        with self._lock:
            playlists = {name: self._read(name, final) for name in self.renditions}
            if final:
                self.target = max(
                    [self.target]
                    + [pinned_target_duration(0, p.segments) for p in playlists.values() if p]
                )
            if not self._started_fired:
                # Playable first: one segment (and its playlist) per rendition, so the
                # multivariant playlist goes out before a backlog of segments is uploaded. A
                # remux writes seconds of segments at once; a player needs only the first.
                for name, playlist in playlists.items():
                    if playlist is not None:
                        self._publish(self.renditions[name], playlist, False, limit=1)
                self._fire_when_all_started()
            for name, playlist in playlists.items():
                if playlist is not None:
                    self._publish(self.renditions[name], playlist, final)
            self._fire_when_all_started()

    def _fire_when_all_started(self) -> None:
        if self._started_fired or not all(s.segments_uploaded for s in self.renditions.values()):
            return
        self._started_fired = True
        if self.on_all_started is not None:
            self.on_all_started()

    def _read(self, name: str, final: bool) -> MediaPlaylist | None:
        try:
            playlist = parse_media_playlist((self.root / name / PLAYLIST_NAME).read_text())
        except (FileNotFoundError, PlaylistError):
            if final:
                raise
            return None  # not written yet
        if final and not playlist.ended:
            raise PlaylistError(f"{name}: ffmpeg exited without ending its playlist")
        return playlist

    def _publish(
        self,
        state: RenditionProgress,
        playlist: MediaPlaylist,
        final: bool,
        limit: int | None = None,
    ) -> None:
        """Upload what is new (at most `limit` segments), then the playlist listing it."""
        folder = self.root / state.name
        state.playlist = playlist
        if playlist.map_uri and not state.init_uploaded:
            init = folder / playlist.map_uri
            if not init.exists():
                return
            self.upload_file(init, rendition_key(self.sha256, state.name, init.name), True)
            state.init_uploaded = True
        # Upload in order and stop at the first segment not on disk yet, so the playlist we
        # publish never lists a segment a player cannot fetch.
        added = 0
        for segment in playlist.segments:
            if segment.uri in state.uploaded:
                continue
            local = folder / segment.uri
            if not local.exists() or (limit is not None and added >= limit):
                break
            added += 1
            self.upload_file(local, rendition_key(self.sha256, state.name, segment.uri), True)
            state.uploaded[segment.uri] = local.stat().st_size
        upto = sum(1 for s in playlist.segments if s.uri in state.uploaded)
        text = render_media_playlist(playlist, self.target, final=final, upto=upto)
        if upto and text != state.published:
            key = rendition_key(self.sha256, state.name, PLAYLIST_NAME)
            self.upload_text(key, text, final)
            state.published = text


class PollingThread:
    """Calls `poll()` every `interval_s` until stopped; remembers the first error."""

    def __init__(self, publisher: LivePublisher, interval_s: float) -> None:
        self.publisher = publisher
        self.interval_s = interval_s
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hls-publisher", daemon=True)

    def __enter__(self) -> PollingThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publisher.poll()
            except Exception as exc:  # surfaced by the caller after ffmpeg ends
                self.error = exc
                return
