from fractions import Fraction

import pytest

from dailies.media.ladder import plan_ladder
from dailies.media.outputs import (
    RenditionOutput,
    build_multivariant,
    count_renditions,
    estimated_outputs,
    measure_rendition,
    measured_duration_s,
    single_variant,
)
from dailies.media.playlists import (
    AudioRendition,
    MediaPlaylist,
    Multivariant,
    Segment,
    Variant,
    render_multivariant,
)
from dailies.previews.layout import (
    BUILDING_PLAYLIST,
    FINAL_PLAYLIST,
    IMMUTABLE,
    upload_spec,
)
from tests.media.conftest import probe_of

VIDEO = [
    RenditionOutput("360p", "video", "avc1.64001e", 900_000, 700_000, 3.0, 1, 640, 360),
    RenditionOutput("720p", "video", "avc1.64001f", 3_000_000, 2_000_000, 3.0, 1, 1280, 720),
]
AUDIO = RenditionOutput("audio", "audio", "mp4a.40.2", 130_000, 129_000, 3.0, 1)


def test_variants_add_the_audio_bitrate_and_codec_highest_first():
    multivariant = build_multivariant([*VIDEO, AUDIO], None)
    first, second = multivariant.variants
    assert first.uri == "720p/index.m3u8" and second.uri == "360p/index.m3u8"
    assert first.bandwidth == 3_130_000 and first.average_bandwidth == 2_129_000
    assert first.codecs == "avc1.64001f,mp4a.40.2" and first.audio_group == "aud"
    assert multivariant.audio[0].uri == "audio/index.m3u8"


def test_video_only_multivariant_has_no_audio_group():
    text = render_multivariant(build_multivariant(VIDEO, None))
    assert "EXT-X-MEDIA" not in text and "mp4a" not in text and "AUDIO=" not in text


def test_the_whole_multivariant_of_video_and_audio():
    assert build_multivariant([*VIDEO, AUDIO], Fraction(30)) == Multivariant(
        (
            Variant("720p/index.m3u8", 3_130_000, "avc1.64001f,mp4a.40.2", 1280, 720,
                    2_129_000, Fraction(30), "aud"),
            Variant("360p/index.m3u8", 1_030_000, "avc1.64001e,mp4a.40.2", 640, 360,
                    829_000, Fraction(30), "aud"),
        ),
        (AudioRendition("aud", "Stereo", "audio/index.m3u8"),),
    )  # fmt: skip
    # Without audio nothing is added to the video's own figures.
    assert build_multivariant(VIDEO[:1], None) == Multivariant(
        (Variant("360p/index.m3u8", 900_000, "avc1.64001e", 640, 360, 700_000),)
    )


def test_estimated_outputs_promise_the_rate_caps_plus_container_overhead():
    plan = plan_ladder(probe_of())  # 1080p, 3 s, with audio
    outputs = estimated_outputs(plan, {"1080p": "avc1.640028", "720p": "avc1.64001f"})
    # peak = maxrate x 1.05, average = video bitrate x 1.05; an unknown codec is High 4.0
    assert outputs == [
        RenditionOutput("1080p", "video", "avc1.640028", 7_875_000, 5_250_000, 3.0, 0, 1920, 1080),
        RenditionOutput("720p", "video", "avc1.64001f", 4_252_500, 2_835_000, 3.0, 0, 1280, 720),
        RenditionOutput("540p", "video", "avc1.640028", 2_756_250, 1_837_500, 3.0, 0, 960, 540),
        RenditionOutput("360p", "video", "avc1.640028", 1_496_250, 997_500, 3.0, 0, 640, 360),
        RenditionOutput("audio", "audio", "mp4a.40.2", 134_400, 134_400, 3.0, 0),
    ]
    silent = estimated_outputs(plan_ladder(probe_of(audio_channels=None)), {})
    assert [o.kind for o in silent] == ["video"] * 4


def test_a_measured_rendition_reports_its_playlist_and_segment_sizes():
    playlist = MediaPlaylist(
        segments=(Segment(2.5004, "v1-00000.m4s"), Segment(1.0, "v1-00001.m4s"))
    )
    # peak: 500 kB over 2.5004 s; average: 600 kB over 3.5004 s; duration to the millisecond
    video = measure_rendition("720p", "video", playlist, [500_000, 100_000], "avc1.64001f",
                              (1280, 720))  # fmt: skip
    assert video == RenditionOutput(
        "720p", "video", "avc1.64001f", 1_599_745, 1_371_272, 3.5, 2, 1280, 720
    )
    audio = measure_rendition("audio", "audio", playlist, [500_000, 100_000], "mp4a.40.2")
    assert (audio.width, audio.height) == (None, None)
    assert audio.as_dict() == {
        "name": "audio", "kind": "audio", "codecs": "mp4a.40.2", "peak_bps": 1_599_745,
        "average_bps": 1_371_272, "duration_s": 3.5, "segments": 2, "width": None,
        "height": None,
    }  # fmt: skip


def test_the_measured_duration_is_the_longest_video_rendition():
    def output(kind: str, duration_s: float) -> RenditionOutput:
        return RenditionOutput(kind, kind, "", 0, 0, duration_s, 1)

    assert measured_duration_s([output("video", 2.5), output("video", 3.0),
                                output("audio", 3.2)], 9.0) == 3.0  # fmt: skip
    assert measured_duration_s([output("video", 0.5)], 9.0) == 0.5
    # No video with a duration (audio does not count): the container's figure stands.
    assert measured_duration_s([output("video", 0.0), output("audio", 3.2)], 9.0) == 9.0


def test_single_variant_for_the_stream_copy():
    assert single_variant(VIDEO[1], "mp4a.40.2") == Multivariant(
        (Variant("720p/index.m3u8", 3_000_000, "avc1.64001f,mp4a.40.2", 1280, 720, 2_000_000),)
    )
    assert single_variant(VIDEO[1], None).variants[0].codecs == "avc1.64001f"


@pytest.mark.parametrize(
    ("key", "final", "cache", "ctype"),
    [
        ("s/720p/v1-00001.m4s", False, IMMUTABLE, "video/iso.segment"),
        ("s/720p/v1-init-720p.mp4", False, IMMUTABLE, "video/mp4"),
        ("s/preview.mp4", True, IMMUTABLE, "video/mp4"),
        ("s/poster.jpg", True, IMMUTABLE, "image/jpeg"),
        ("s/storyboard.vtt", True, IMMUTABLE, "text/vtt"),
        ("s/720p/index.m3u8", False, BUILDING_PLAYLIST, "application/vnd.apple.mpegurl"),
        ("s/manifest.m3u8", False, BUILDING_PLAYLIST, "application/vnd.apple.mpegurl"),
        ("s/manifest.m3u8", True, FINAL_PLAYLIST, "application/vnd.apple.mpegurl"),
        # the first rendition's timing.json is replaced by the ladder's
        ("s/timing.json", False, BUILDING_PLAYLIST, "application/json"),
        ("s/timing.json", True, FINAL_PLAYLIST, "application/json"),
    ],
)
def test_cache_headers(key, final, cache, ctype):
    spec = upload_spec(key, final=final)
    assert (spec.cache_control, spec.content_type) == (cache, ctype)
    assert IMMUTABLE == "public, max-age=31536000, immutable"


def test_renditions_are_counted_in_words_video_apart_from_audio() -> None:
    assert count_renditions(["video"] * 4 + ["audio"]) == "4 video renditions + audio"
    assert count_renditions(["video"]) == "1 video rendition"
    assert count_renditions(["audio", "video", "video"]) == "2 video renditions + audio"
    assert count_renditions([]) == "0 video renditions"
