"""Playlist parsing and rendering at the edges: absolute and query-string URIs, titles with
commas, tags we do not use, versions, what a refusal says (test_media_playlists.py has the
everyday cases)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from dailies.errors import PlaylistError
from dailies.media.playlists import (
    AudioRendition,
    MediaPlaylist,
    Multivariant,
    Segment,
    Variant,
    avc_codec_string,
    measured_bandwidth,
    parse_media_playlist,
    render_media_playlist,
    render_multivariant,
    rendition_files,
)


@pytest.mark.parametrize(
    ("tag", "uri"),
    [
        ('#EXT-X-MAP:URI="https://cdn.example/p/init.mp4"', "https://cdn.example/p/init.mp4"),
        ('#EXT-X-MAP:URI="init.mp4?v=1&x=2"', "init.mp4?v=1&x=2"),
        ('#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0"', "init.mp4"),
        ('#EXT-X-MAP:BYTERANGE="720@0", URI = "X-init.mp4"', "X-init.mp4"),
        ('#EXT-X-MAP:BYTERANGE="720@0"', None),
    ],
)
def test_the_init_segment_uri_is_read_whatever_else_the_map_tag_says(tag: str, uri: str) -> None:
    assert parse_media_playlist(f"#EXTM3U\n{tag}\n").map_uri == uri


def test_unused_tags_comments_titles_and_versions_are_read_or_ignored() -> None:
    playlist = parse_media_playlist(
        "#EXTM3U\n#EXT-X-VERSION:6\n# a comment\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00Z\n"
        "#EXTINF:4.5,take 1, slate\na.m4s\n"
    )
    assert playlist.version == 6
    assert playlist.segments == (Segment(4.5, "a.m4s"),)


def test_missing_header_says_so() -> None:
    with pytest.raises(PlaylistError) as refused:
        parse_media_playlist("#EXTINF:4,\na.m4s\n")
    assert str(refused.value) == "not an HLS playlist: missing #EXTM3U"


def test_every_segment_needs_its_own_extinf() -> None:
    with pytest.raises(PlaylistError) as refused:
        parse_media_playlist("#EXTM3U\n#EXTINF:4,\na.m4s\nb.m4s\n")
    assert str(refused.value) == "segment 'b.m4s' has no #EXTINF"


def test_a_rendition_without_an_init_segment_is_its_segments() -> None:
    playlist = MediaPlaylist(segments=(Segment(4, "a.ts"), Segment(4, "b.ts")))
    assert rendition_files(playlist) == ["a.ts", "b.ts"]


@pytest.mark.parametrize(
    ("version", "map_uri", "rendered"),
    [(1, None, 3), (1, "i.mp4", 7), (5, None, 5), (8, "i.mp4", 8)],
)
def test_the_rendered_version_is_what_the_features_need(
    version: int, map_uri: str | None, rendered: int
) -> None:
    """fMP4 (an EXT-X-MAP) needs version 7; plain segments 3; a higher one is kept."""
    text = render_media_playlist(MediaPlaylist(version=version, map_uri=map_uri), 4, final=True)
    assert text.splitlines()[1] == f"#EXT-X-VERSION:{rendered}"


def test_a_multivariant_playlist_as_players_read_it() -> None:
    multivariant = Multivariant(
        variants=(
            Variant("720p/index.m3u8", 3000000, "avc1.64001f,mp4a.40.2", 1280, 720, 2500000,
                    Fraction(30000, 1001), "aud"),
            Variant("x/index.m3u8", 100000, "avc1.42e01e", width=640),
        ),
        audio=(AudioRendition("aud", "audio", "audio/index.m3u8", 2, "en"),),
    )  # fmt: skip
    assert render_multivariant(multivariant) == (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,'
        'CHANNELS="2",LANGUAGE="en",URI="audio/index.m3u8"\n'
        "#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,"
        'FRAME-RATE=29.970,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"\n'
        "720p/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=100000,CODECS="avc1.42e01e"\n'  # no half a RESOLUTION
        "x/index.m3u8\n"
    )


@pytest.mark.parametrize(
    ("init", "codec"),
    [
        (b"avcC\x01\x64\x00\x1f", "avc1.64001f"),  # the box at the very start, exactly 8 bytes
        (b"....avcC\x01\x4d\x40\x1e\xff", "avc1.4d401e"),
        (b"....avcC\x01\x4d\x40", None),  # cut short
        (b"....avc", None),
    ],
)
def test_codec_string_at_the_edges_of_the_init_segment(init: bytes, codec: str | None) -> None:
    assert avc_codec_string(init) == codec


def test_bandwidth_skips_zero_length_segments_and_needs_a_size_for_each() -> None:
    assert measured_bandwidth([Segment(0.0, "a"), Segment(2.0, "b")], [999, 1000]) == (4000, 4000)
    with pytest.raises(ValueError):
        measured_bandwidth([Segment(2.0, "a"), Segment(2.0, "b")], [1000])
