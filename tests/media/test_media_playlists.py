from fractions import Fraction

import pytest

from dailies.errors import DailiesError, PlaylistError
from dailies.media.playlists import (
    AudioRendition,
    Multivariant,
    Segment,
    Variant,
    avc_codec_string,
    measured_bandwidth,
    parse_media_playlist,
    pinned_target_duration,
    render_media_playlist,
    render_multivariant,
    rendition_files,
)

# What ffmpeg 5.1's hls muxer writes mid-encode (EVENT, its TARGETDURATION grows).
FFMPEG_EVENT = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:5
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="v1-init-720p.mp4"
#EXTINF:4.004000,
v1-00000.m4s
#EXTINF:4.504000,
v1-00001.m4s
#EXTINF:1.500000,
v1-00002.m4s
"""


def test_parse_what_ffmpeg_writes():
    playlist = parse_media_playlist(FFMPEG_EVENT)
    assert playlist.map_uri == "v1-init-720p.mp4"
    assert [s.uri for s in playlist.segments] == ["v1-00000.m4s", "v1-00001.m4s", "v1-00002.m4s"]
    assert playlist.playlist_type == "EVENT" and not playlist.ended
    assert playlist.target_duration == 5 and playlist.independent_segments
    assert playlist.duration_s == pytest.approx(10.008)
    assert parse_media_playlist(FFMPEG_EVENT + "#EXT-X-ENDLIST\n").ended
    assert (
        rendition_files(playlist)[0] == "v1-init-720p.mp4" and len(rendition_files(playlist)) == 4
    )


@pytest.mark.parametrize("text", ["", "#EXT-X-VERSION:7\n", "#EXTM3U\nsegment.m4s\n"])
def test_malformed_playlists_are_refused(text):
    with pytest.raises(PlaylistError):
        parse_media_playlist(text)


def test_event_render_pins_target_and_lists_only_uploaded_segments():
    playlist = parse_media_playlist(FFMPEG_EVENT)
    text = render_media_playlist(playlist, 4, final=False, upto=1)
    assert "#EXT-X-TARGETDURATION:4" in text
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text and "#EXT-X-ENDLIST" not in text
    assert "v1-00000.m4s" in text and "v1-00001.m4s" not in text
    assert '#EXT-X-MAP:URI="v1-init-720p.mp4"' in text
    assert "#EXT-X-INDEPENDENT-SEGMENTS" in text


def test_final_render_is_vod_with_endlist():
    playlist = parse_media_playlist(FFMPEG_EVENT)
    text = render_media_playlist(playlist, 5, final=True)
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.count("#EXTINF") == 3
    assert parse_media_playlist(text).segments == playlist.segments


@pytest.mark.parametrize(
    ("segment_s", "durations", "target"),
    [(4, [], 4), (4, [4.004, 4.004], 4), (4, [4.504], 5), (4, [1.2], 4), (0, [], 1), (6, [2], 6)],
)
def test_pinned_target_duration(segment_s, durations, target):
    segments = [Segment(d, f"{i}.m4s") for i, d in enumerate(durations)]
    assert pinned_target_duration(segment_s, segments) == target


def test_multivariant_has_codecs_resolution_bandwidth_and_audio_group():
    multivariant = Multivariant(
        (
            Variant(
                "720p/index.m3u8",
                3_000_000,
                "avc1.64001f,mp4a.40.2",
                1280,
                720,
                2_500_000,
                Fraction(30),
                "aud",
            ),
            Variant(
                "360p/index.m3u8", 900_000, "avc1.64001e,mp4a.40.2", 640, 360, None, None, "aud"
            ),
        ),  # fmt: skip
        (AudioRendition("aud", "Stereo", "audio/index.m3u8"),),
    )
    text = render_multivariant(multivariant)
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert lines[3] == (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Stereo",DEFAULT=YES,AUTOSELECT=YES,'
        'CHANNELS="2",URI="audio/index.m3u8"'
    )
    assert lines[4] == (
        "#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,"
        'FRAME-RATE=30.000,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"'
    )
    assert lines[5] == "720p/index.m3u8"


@pytest.mark.parametrize(
    ("avcc", "codec"),
    [
        (bytes([1, 0x64, 0x00, 0x28]), "avc1.640028"),  # High@4.0
        (bytes([1, 0x64, 0x00, 0x1F]), "avc1.64001f"),  # High@3.1
        (bytes([1, 0x42, 0xC0, 0x1E]), "avc1.42c01e"),  # Constrained Baseline@3.0
    ],
)
def test_codec_string_comes_from_the_init_segments_avcc(avcc, codec):
    init = b"\x00\x00\x00\x18ftypiso6" + b"\x00" * 40 + b"\x00\x00\x00\x30avcC" + avcc + b"\xff" * 8
    assert avc_codec_string(init) == codec


def test_codec_string_missing_without_avcc():
    assert avc_codec_string(b"\x00\x00\x00\x18ftypiso6") is None


@pytest.mark.parametrize(
    ("durations", "sizes", "peak", "average"),
    [
        ([4.0, 4.0], [1_000_000, 2_000_000], 4_000_000, 3_000_000),
        ([4.0, 1.0], [1_000_000, 500_000], 4_000_000, 2_400_000),  # short last segment counts
        ([], [], 0, 0),
    ],
)
def test_measured_bandwidth_peak_and_average(durations, sizes, peak, average):
    segments = [Segment(d, f"{i}") for i, d in enumerate(durations)]
    assert measured_bandwidth(segments, sizes) == (peak, average)


def test_a_bad_playlist_is_a_dailies_error_and_still_a_value_error():
    with pytest.raises(DailiesError):
        parse_media_playlist("not a playlist")
    with pytest.raises(ValueError):
        parse_media_playlist("not a playlist")
