"""What a finished (or starting) encode produced, and the multivariant playlist for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from dailies.media.commands.common import AUDIO_GROUP, AUDIO_NAME, PLAYLIST_NAME
from dailies.media.ladder import AUDIO_BITRATE, LadderPlan
from dailies.media.playlists import (
    AAC_LC,
    FALLBACK_AVC,
    AudioRendition,
    MediaPlaylist,
    Multivariant,
    Variant,
    measured_bandwidth,
)

# Container overhead (moof/mdat headers) on top of the encoder's bitrate.
OVERHEAD = 1.05


@dataclass(frozen=True)
class RenditionOutput:
    name: str
    kind: str  # video or audio
    codecs: str
    peak_bps: int
    average_bps: int
    duration_s: float
    segments: int
    width: int | None = None
    height: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_renditions(kinds: Sequence[str]) -> str:
    """ "4 video renditions + audio": what a ladder holds, in words (a bare count of 5 read as
    five pictures)."""
    video = sum(1 for kind in kinds if kind == "video")
    audio = " + audio" if "audio" in kinds else ""
    return f"{video} video rendition{'' if video == 1 else 's'}{audio}"


def measure_rendition(
    name: str,
    kind: str,
    playlist: MediaPlaylist,
    sizes: Sequence[int],
    codecs: str,
    size: tuple[int, int] | None = None,
) -> RenditionOutput:
    peak, average = measured_bandwidth(playlist.segments, sizes)
    return RenditionOutput(
        name=name,
        kind=kind,
        codecs=codecs,
        peak_bps=peak,
        average_bps=average,
        duration_s=round(playlist.duration_s, 3),
        segments=len(playlist.segments),
        width=size[0] if size else None,
        height=size[1] if size else None,
    )


def measured_duration_s(outputs: Sequence[RenditionOutput], fallback: float) -> float:
    """How long the encode really is (its longest video rendition): containers can misstate
    their duration, and the poster and storyboard must not seek past the last frame."""
    durations = [o.duration_s for o in outputs if o.kind == "video" and o.duration_s > 0]
    return max(durations, default=fallback)


def estimated_outputs(plan: LadderPlan, codecs: dict[str, str]) -> list[RenditionOutput]:
    """Before anything is measured (the early EVENT multivariant playlist): bandwidth from
    the rate caps."""
    outputs = [
        RenditionOutput(
            name=r.name,
            kind="video",
            codecs=codecs.get(r.name, FALLBACK_AVC),
            peak_bps=int(r.maxrate * OVERHEAD),
            average_bps=int(r.video_bitrate * OVERHEAD),
            duration_s=plan.duration_s,
            segments=0,
            width=r.width,
            height=r.height,
        )
        for r in plan.rungs
    ]
    if plan.has_audio:
        bps = int(AUDIO_BITRATE * OVERHEAD)
        outputs.append(RenditionOutput(AUDIO_NAME, "audio", AAC_LC, bps, bps, plan.duration_s, 0))
    return outputs


def build_multivariant(
    outputs: Sequence[RenditionOutput], frame_rate: Fraction | None
) -> Multivariant:
    """Video variants, highest first, each with the audio rendition's bitrate added:
    BANDWIDTH is what a player must sustain for the whole combination."""
    audio = next((o for o in outputs if o.kind == "audio"), None)
    video = sorted((o for o in outputs if o.kind == "video"), key=lambda o: -o.peak_bps)
    variants = tuple(
        Variant(
            uri=f"{o.name}/{PLAYLIST_NAME}",
            bandwidth=o.peak_bps + (audio.peak_bps if audio else 0),
            average_bandwidth=o.average_bps + (audio.average_bps if audio else 0),
            codecs=f"{o.codecs},{audio.codecs}" if audio else o.codecs,
            width=o.width,
            height=o.height,
            frame_rate=frame_rate,
            audio_group=AUDIO_GROUP if audio else None,
        )
        for o in video
    )
    renditions = (
        (AudioRendition(AUDIO_GROUP, "Stereo", f"{audio.name}/{PLAYLIST_NAME}"),) if audio else ()
    )
    return Multivariant(variants, renditions)


def single_variant(output: RenditionOutput, audio_codec: str | None) -> Multivariant:
    """The early multivariant playlist of a stream-copied master: one variant, audio muxed in."""
    codecs = f"{output.codecs},{audio_codec}" if audio_codec else output.codecs
    return Multivariant(
        (
            Variant(
                uri=f"{output.name}/{PLAYLIST_NAME}",
                bandwidth=output.peak_bps,
                average_bandwidth=output.average_bps,
                codecs=codecs,
                width=output.width,
                height=output.height,
            ),
        )
    )
