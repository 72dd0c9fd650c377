"""The live publisher against a scratch folder written the way ffmpeg writes it."""

import threading
from pathlib import Path

import pytest

from dailies.errors import PlaylistError
from dailies.media.live import LivePublisher, PollingThread
from dailies.media.playlists import parse_media_playlist

SHA = "a" * 64
HEAD = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{t}\n#EXT-X-PLAYLIST-TYPE:EVENT\n"


def write(root: Path, name: str, segments: list[tuple[float, bool]], target: int = 4,
          ended: bool = False) -> None:  # fmt: skip
    """segments: (duration, file exists yet)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"v1-init-{name}.mp4").write_bytes(b"init")
    lines = [HEAD.format(t=target), f'#EXT-X-MAP:URI="v1-init-{name}.mp4"']
    for i, (duration, exists) in enumerate(segments):
        lines += [f"#EXTINF:{duration:.6f},", f"v1-{i:05d}.m4s"]
        if exists:
            (folder / f"v1-{i:05d}.m4s").write_bytes(b"x" * (1000 * (i + 1)))
    if ended:
        lines.append("#EXT-X-ENDLIST")
    (folder / "index.m3u8").write_text("\n".join(lines) + "\n")


class Recorder:
    def __init__(self) -> None:
        self.files: list[str] = []
        self.uploads: list[tuple[Path, str, bool]] = []
        self.texts: dict[str, list[tuple[str, bool]]] = {}
        self.started = 0

    def file(self, path: Path, key: str, final: bool) -> None:
        self.files.append(key)
        self.uploads.append((path, key, final))

    def text(self, key: str, body: str, final: bool) -> None:
        self.texts.setdefault(key, []).append((body, final))

    def publisher(self, root: Path, names: list[str]) -> LivePublisher:
        def started() -> None:
            self.started += 1

        return LivePublisher(root, names, SHA, 4, self.file, self.text, started)


def test_uploads_init_then_segments_in_order_then_the_playlist(tmp_path):
    rec = Recorder()
    pub = rec.publisher(tmp_path, ["720p"])
    write(tmp_path, "720p", [(4.0, True), (4.0, False)])  # second still being written
    pub.poll()
    # Every file is immutable once uploaded (final=True), even while the encode runs.
    assert rec.uploads == [
        (tmp_path / "720p" / "v1-init-720p.mp4", f"{SHA}/720p/v1-init-720p.mp4", True),
        (tmp_path / "720p" / "v1-00000.m4s", f"{SHA}/720p/v1-00000.m4s", True),
    ]
    [(body, final)] = rec.texts[f"{SHA}/720p/index.m3u8"]
    published = parse_media_playlist(body)
    assert [s.uri for s in published.segments] == ["v1-00000.m4s"] and final is False
    assert published.playlist_type == "EVENT" and not published.ended
    # What the publisher last read (all of it, not only what is uploaded) is kept for the end.
    state = pub.renditions["720p"]
    playlist = parse_media_playlist((tmp_path / "720p" / "index.m3u8").read_text())
    assert state.playlist == playlist and state.segments_uploaded == 1


def test_nothing_is_uploaded_twice_and_unchanged_playlists_are_not_republished(tmp_path):
    rec = Recorder()
    pub = rec.publisher(tmp_path, ["720p"])
    write(tmp_path, "720p", [(4.0, True)])
    pub.poll()
    pub.poll()
    assert len(rec.files) == 2 and len(rec.texts[f"{SHA}/720p/index.m3u8"]) == 1
    write(tmp_path, "720p", [(4.0, True), (4.0, True)])
    pub.poll()
    assert rec.files[-1] == f"{SHA}/720p/v1-00001.m4s" and len(rec.files) == 3


def test_target_duration_stays_pinned_while_ffmpeg_raises_it(tmp_path):
    rec = Recorder()
    pub = rec.publisher(tmp_path, ["720p"])
    write(tmp_path, "720p", [(4.0, True), (4.004, True)], target=5)
    pub.poll()
    body, _ = rec.texts[f"{SHA}/720p/index.m3u8"][-1]
    assert parse_media_playlist(body).target_duration == 4


def test_final_poll_publishes_vod_and_raises_target_for_long_segments(tmp_path):
    rec = Recorder()
    pub = rec.publisher(tmp_path, ["720p", "360p"])
    write(tmp_path, "720p", [(4.0, True), (5.6, True)], ended=True)
    write(tmp_path, "360p", [(4.0, True), (5.6, True)], ended=True)
    pub.poll(final=True)
    for name in ("720p", "360p"):
        body, final = rec.texts[f"{SHA}/{name}/index.m3u8"][-1]
        published = parse_media_playlist(body)
        assert final and published.ended and published.playlist_type == "VOD"
        assert published.target_duration == 6  # every rendition gets the same, raised value
    assert pub.renditions["720p"].uploaded == {"v1-00000.m4s": 1000, "v1-00001.m4s": 2000}


def test_final_poll_refuses_a_playlist_ffmpeg_did_not_end(tmp_path):
    pub = Recorder().publisher(tmp_path, ["720p"])
    write(tmp_path, "720p", [(4.0, True)])
    with pytest.raises(PlaylistError, match="without ending"):
        pub.poll(final=True)


def test_all_started_fires_once_when_every_rendition_has_a_segment(tmp_path):
    rec = Recorder()
    pub = rec.publisher(tmp_path, ["720p", "audio"])
    write(tmp_path, "720p", [(4.0, True)])
    pub.poll()
    assert rec.started == 0  # audio has nothing yet
    write(tmp_path, "audio", [(4.0, True)])
    pub.poll()
    pub.poll()
    assert rec.started == 1


def test_missing_playlists_are_waited_for_until_final(tmp_path):
    pub = Recorder().publisher(tmp_path, ["720p"])
    pub.poll()  # ffmpeg has not written anything yet: fine
    with pytest.raises(FileNotFoundError):
        pub.poll(final=True)


def test_a_backlog_of_segments_does_not_hold_back_the_multivariant(tmp_path):
    """A remux writes seconds of segments before the first poll: the multivariant playlist (started)
    goes out after one segment and its playlist, then the rest follow."""
    rec = Recorder()
    seen_at_start: list[list[str]] = []
    pub = LivePublisher(
        tmp_path, ["first"], SHA, 1, rec.file, rec.text,
        lambda: seen_at_start.append(list(rec.files)),
    )  # fmt: skip
    write(tmp_path, "first", [(1.0, True), (1.0, True), (1.0, True)], target=1, ended=True)
    pub.poll(final=True)
    assert seen_at_start == [[f"{SHA}/first/v1-init-first.mp4", f"{SHA}/first/v1-00000.m4s"]]
    first_playlist = parse_media_playlist(rec.texts[f"{SHA}/first/index.m3u8"][0][0])
    assert [s.uri for s in first_playlist.segments] == ["v1-00000.m4s"]
    assert len(rec.files) == 4  # init + all three segments in the end
    final_body, final = rec.texts[f"{SHA}/first/index.m3u8"][-1]
    assert final and parse_media_playlist(final_body).ended


class Signalled(Recorder):
    """Also says, across threads, when a playlist was published and from which thread."""

    def __init__(self) -> None:
        super().__init__()
        self.published = threading.Event()
        self.thread: threading.Thread | None = None

    def text(self, key: str, body: str, final: bool) -> None:
        super().text(key, body, final)
        self.thread = threading.current_thread()
        self.published.set()


def test_the_polling_thread_publishes_until_stopped(tmp_path):
    rec = Signalled()
    pub = rec.publisher(tmp_path, ["720p"])
    write(tmp_path, "720p", [(4.0, True)])
    with PollingThread(pub, 0.01) as poller:
        # A failure timeout only: the first poll comes after one 10 ms interval.
        assert rec.published.wait(timeout=30)
    assert poller.error is None
    # Its own daemon thread, named for stack dumps: a stuck upload cannot keep the worker up.
    assert rec.thread is not None and rec.thread is not threading.main_thread()
    assert (rec.thread.name, rec.thread.daemon, rec.thread.is_alive()) == (
        "hls-publisher", True, False)  # fmt: skip


def test_the_polling_thread_keeps_the_first_error_and_stops(tmp_path):
    failed = threading.Event()
    calls: list[str] = []

    def upload_fails(path: Path, key: str, final: bool) -> None:
        calls.append(key)
        failed.set()
        raise OSError("store down")

    pub = LivePublisher(tmp_path, ["720p"], SHA, 4, upload_fails, Recorder().text)
    write(tmp_path, "720p", [(4.0, True)])
    with PollingThread(pub, 0.01) as poller:
        assert failed.wait(timeout=30)
    # Leaving the block joined the thread; it stopped at the first error.
    assert isinstance(poller.error, OSError) and str(poller.error) == "store down"
    assert calls == [f"{SHA}/720p/v1-init-720p.mp4"]
