"""HLS playlists: read what ffmpeg writes, publish what players should see.

ffmpeg's EVENT playlists raise TARGETDURATION as longer segments appear, which the HLS spec
forbids mid-stream, and list segments we may not have uploaded yet. We re-render them: pinned
target duration, only uploaded segments, and VOD + ENDLIST once the encode is done.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from dailies.errors import PlaylistError


@dataclass(frozen=True)
class Segment:
    duration: float
    uri: str


@dataclass(frozen=True)
class MediaPlaylist:
    version: int = 7
    target_duration: int = 0
    media_sequence: int = 0
    map_uri: str | None = None
    segments: tuple[Segment, ...] = ()
    ended: bool = False
    playlist_type: str | None = None
    independent_segments: bool = False

    @property
    def duration_s(self) -> float:
        return sum(s.duration for s in self.segments)


def _attr(line: str) -> str:
    return line.split(":", 1)[1].strip()


def _quoted_uri(value: str) -> str | None:
    for part in value.split(","):
        key, _, raw = part.partition("=")
        if key.strip() == "URI":
            return raw.strip().strip('"')
    return None


def parse_media_playlist(text: str) -> MediaPlaylist:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise PlaylistError("not an HLS playlist: missing #EXTM3U")
    playlist = MediaPlaylist()
    segments: list[Segment] = []
    pending: float | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-VERSION:"):
            playlist = replace(playlist, version=int(_attr(line)))
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            playlist = replace(playlist, target_duration=int(_attr(line)))
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            playlist = replace(playlist, media_sequence=int(_attr(line)))
        elif line.startswith("#EXT-X-PLAYLIST-TYPE:"):
            playlist = replace(playlist, playlist_type=_attr(line))
        elif line == "#EXT-X-INDEPENDENT-SEGMENTS":
            playlist = replace(playlist, independent_segments=True)
        elif line.startswith("#EXT-X-MAP:"):
            playlist = replace(playlist, map_uri=_quoted_uri(_attr(line)))
        elif line.startswith("#EXTINF:"):
            pending = float(_attr(line).split(",", 1)[0])
        elif line == "#EXT-X-ENDLIST":
            playlist = replace(playlist, ended=True)
        elif not line.startswith("#"):
            if pending is None:
                raise PlaylistError(f"segment {line!r} has no #EXTINF")
            segments.append(Segment(pending, line))
            pending = None
    return replace(playlist, segments=tuple(segments))


def rendition_files(playlist: MediaPlaylist) -> list[str]:
    """Init segment then media segments: concatenated, they are one fragmented MP4, which
    ffmpeg reads (and seeks in) more reliably than its HLS demuxer reads fMP4 playlists."""
    return ([playlist.map_uri] if playlist.map_uri else []) + [s.uri for s in playlist.segments]


def pinned_target_duration(segment_s: float, segments: Sequence[Segment] = ()) -> int:
    """TARGETDURATION that holds for the whole stream: the planned segment length, or more
    if a segment already ran over (EXTINF rounded to the nearest integer must not exceed it)."""
    longest = max((round(s.duration) for s in segments), default=0)
    return max(math.ceil(segment_s), longest, 1)


def render_media_playlist(
    playlist: MediaPlaylist, target_duration: int, *, final: bool, upto: int | None = None
) -> str:
    """EVENT (growing, first `upto` segments) while building; VOD + ENDLIST when final."""
    segments = playlist.segments if upto is None else playlist.segments[:upto]
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{max(playlist.version, 7 if playlist.map_uri else 3)}",
        f"#EXT-X-TARGETDURATION:{target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence}",
        f"#EXT-X-PLAYLIST-TYPE:{'VOD' if final else 'EVENT'}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    if playlist.map_uri:
        lines.append(f'#EXT-X-MAP:URI="{playlist.map_uri}"')
    for segment in segments:
        lines += [f"#EXTINF:{segment.duration:.6f},", segment.uri]
    if final:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Variant:
    uri: str
    bandwidth: int
    codecs: str
    width: int | None = None
    height: int | None = None
    average_bandwidth: int | None = None
    frame_rate: Fraction | None = None
    audio_group: str | None = None


@dataclass(frozen=True)
class AudioRendition:
    group_id: str
    name: str
    uri: str
    channels: int = 2
    language: str | None = None


@dataclass(frozen=True)
class Multivariant:
    variants: tuple[Variant, ...]
    audio: tuple[AudioRendition, ...] = field(default_factory=tuple)


def render_multivariant(playlist: Multivariant) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for audio in playlist.audio:
        attrs = [
            "TYPE=AUDIO",
            f'GROUP-ID="{audio.group_id}"',
            f'NAME="{audio.name}"',
            "DEFAULT=YES",
            "AUTOSELECT=YES",
            f'CHANNELS="{audio.channels}"',
        ]
        if audio.language:
            attrs.append(f'LANGUAGE="{audio.language}"')
        attrs.append(f'URI="{audio.uri}"')
        lines.append("#EXT-X-MEDIA:" + ",".join(attrs))
    for variant in playlist.variants:
        attrs = [f"BANDWIDTH={variant.bandwidth}"]
        if variant.average_bandwidth:
            attrs.append(f"AVERAGE-BANDWIDTH={variant.average_bandwidth}")
        if variant.width and variant.height:
            attrs.append(f"RESOLUTION={variant.width}x{variant.height}")
        if variant.frame_rate:
            attrs.append(f"FRAME-RATE={float(variant.frame_rate):.3f}")
        attrs.append(f'CODECS="{variant.codecs}"')
        if variant.audio_group:
            attrs.append(f'AUDIO="{variant.audio_group}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), variant.uri]
    return "\n".join(lines) + "\n"


AAC_LC = "mp4a.40.2"
# High@4.0: said of an H.264 rendition only when its init segment cannot be read (ffmpeg
# always writes one, so in practice never).
FALLBACK_AVC = "avc1.640028"


def avc_codec_string(init_segment: bytes) -> str | None:
    """RFC 6381 `avc1.PPCCLL` from the avcC box of an fMP4 init segment: the profile the
    encoder really used (x264 drops to a lower profile when a preset allows), not the one asked."""
    at = init_segment.find(b"avcC")
    if at < 0 or len(init_segment) < at + 8:
        return None
    profile, compat, level = struct.unpack_from(">BBB", init_segment, at + 5)
    return f"avc1.{profile:02x}{compat:02x}{level:02x}"


def measured_bandwidth(segments: Sequence[Segment], sizes: Sequence[int]) -> tuple[int, int]:
    """(peak, average) bits per second over segments, as BANDWIDTH and AVERAGE-BANDWIDTH want."""
    pairs = [(s.duration, n) for s, n in zip(segments, sizes, strict=True) if s.duration > 0]
    if not pairs:
        return 0, 0
    # The spec's peak is over every segment, the short last one too: overstating is safe,
    # understating makes players pick a rendition they cannot sustain.
    peak = max(math.ceil(n * 8 / d) for d, n in pairs)
    total_d = sum(d for d, _ in pairs)
    average = math.ceil(sum(n for _, n in pairs) * 8 / total_d)
    return peak, average
