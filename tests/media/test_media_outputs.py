import pytest

from dailies.media.ladder import plan_ladder
from dailies.media.outputs import (
    RenditionOutput,
    build_multivariant,
    estimated_outputs,
    single_variant,
)
from dailies.media.playlists import render_multivariant
from dailies.media.publish import (
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
    manifest = build_multivariant([*VIDEO, AUDIO], None)
    first, second = manifest.variants
    assert first.uri == "720p/index.m3u8" and second.uri == "360p/index.m3u8"
    assert first.bandwidth == 3_130_000 and first.average_bandwidth == 2_129_000
    assert first.codecs == "avc1.64001f,mp4a.40.2" and first.audio_group == "aud"
    assert manifest.audio[0].uri == "audio/index.m3u8"


def test_video_only_manifest_has_no_audio_group():
    text = render_multivariant(build_multivariant(VIDEO, None))
    assert "EXT-X-MEDIA" not in text and "mp4a" not in text and "AUDIO=" not in text


def test_estimated_outputs_promise_at_least_the_rate_caps():
    plan = plan_ladder(probe_of())
    outputs = estimated_outputs(plan, {"1080p": "avc1.640028"})
    assert [o.name for o in outputs] == ["1080p", "720p", "540p", "360p", "audio"]
    assert all(o.peak_bps >= r.maxrate for o, r in zip(outputs, plan.rungs, strict=False))


def test_single_variant_for_the_stream_copy():
    manifest = single_variant(VIDEO[1], "mp4a.40.2")
    assert len(manifest.variants) == 1 and manifest.variants[0].codecs.endswith(",mp4a.40.2")


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
