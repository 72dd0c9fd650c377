"""Property-based tests of the pure planners (Hypothesis): what holds for every input, not
just the table-driven cases."""

from __future__ import annotations

import string
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dailies.errors import InvalidSha256, PlaylistError
from dailies.hashing import normalize_sha256
from dailies.media.ladder import plan_ladder
from dailies.media.playlists import (
    MediaPlaylist,
    Segment,
    parse_media_playlist,
    render_media_playlist,
)
from tests.media.conftest import probe_of

sides = st.integers(min_value=16, max_value=8192)
rates = st.sampled_from(["24000/1001", "24/1", "25/1", "30000/1001", "30/1", "50/1", "60/1",
                         "120/1", "15/1", "12/1"])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(width=sides, height=sides, rate=rates)
@example(width=1080, height=1081, rate="30/1")  # found by Hypothesis: portrait by one pixel
def test_the_ladder_never_upscales_keeps_even_sides_and_aspect_and_caps_at_the_source(
    width: int, height: int, rate: str
) -> None:
    probe = probe_of(width=width, height=height, rate=rate)
    plan = plan_ladder(probe)
    assert plan.rungs, "a ladder has at least one rung"
    for rung in plan.rungs:
        assert rung.width % 2 == 0 and rung.height % 2 == 0
        assert rung.width <= max(width, 2) and rung.height <= max(height, 2)  # never upscaled
        # Aspect kept within what rounding both sides down to even numbers can cost.
        assert (
            abs(rung.width / rung.height - width / height)
            <= (2 / rung.height + 2 * rung.width / rung.height**2 + 1e-9)
            or min(rung.width, rung.height) == 2
        )
        assert rung.maxrate > rung.video_bitrate > 0
    shorts = [min(r.width, r.height) for r in plan.rungs]
    assert shorts == sorted(shorts, reverse=True) and len(set(shorts)) == len(shorts)
    assert shorts[0] <= max(1080, 0) and shorts[0] <= min(width, height)
    # Never turned on its side; a one-pixel-off square (1080x1081) may round to a square.
    if width > height:
        assert plan.top.width >= plan.top.height
    elif width < height:
        assert plan.top.width <= plan.top.height
    assert 0 < plan.frame_rate <= Fraction(61)


segment_names = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1,
                        max_size=24).filter(lambda n: not n.startswith("#"))  # fmt: skip
segments = st.lists(
    st.builds(Segment, st.floats(min_value=0.04, max_value=30).map(lambda d: round(d, 6)),
              segment_names),
    max_size=40,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    segments=segments,
    map_uri=st.one_of(st.none(), segment_names),
    sequence=st.integers(min_value=0, max_value=10**6),
    final=st.booleans(),
)
def test_media_playlists_round_trip(
    segments: list[Segment], map_uri: str | None, sequence: int, final: bool
) -> None:
    playlist = MediaPlaylist(media_sequence=sequence, map_uri=map_uri, segments=tuple(segments))
    target = max([1, *(int(s.duration) + 1 for s in segments)])
    parsed = parse_media_playlist(render_media_playlist(playlist, target, final=final))
    assert parsed.segments == playlist.segments
    assert parsed.map_uri == map_uri and parsed.media_sequence == sequence
    assert parsed.target_duration == target and parsed.ended is final
    assert parsed.playlist_type == ("VOD" if final else "EVENT")


@given(st.text(max_size=200))
def test_anything_but_a_playlist_is_refused_with_a_playlist_error(text: str) -> None:
    if text.strip().startswith("#EXTM3U"):
        return
    with pytest.raises(PlaylistError):
        parse_media_playlist(text)


hex64 = st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)


@given(sha=hex64, padding=st.text(alphabet=" \t\n", max_size=3))
def test_normalising_a_sha256_is_idempotent(sha: str, padding: str) -> None:
    once = normalize_sha256(padding + sha + padding)
    assert once == sha.lower() and normalize_sha256(once) == once


@given(st.text(max_size=80))
def test_every_non_hex_form_is_refused(value: str) -> None:
    candidate = value.strip().lower()
    if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
        return
    with pytest.raises(InvalidSha256):
        normalize_sha256(value)
