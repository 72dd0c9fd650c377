"""preview.mp4: a remux of finished renditions, so nothing is decoded or encoded again."""

from __future__ import annotations

from pathlib import Path

import ffmpeg

from dailies.media.commands.common import LOCAL_PROTOCOLS, finish_args


def build_mp4_args(
    video_file: Path, audio_file: Path | None, out_file: Path, ffmpeg_bin: str = "ffmpeg"
) -> list[str]:
    """preview.mp4 is a remux of one rendition (plus the audio one): no second encode.
    Inputs are renditions flattened to single fMP4 files (see playlists.rendition_files)."""
    video = ffmpeg.input(str(video_file), protocol_whitelist=LOCAL_PROTOCOLS)
    streams = [video["v:0"]]
    if audio_file is not None:
        streams.append(ffmpeg.input(str(audio_file), protocol_whitelist=LOCAL_PROTOCOLS)["a:0"])
    out = ffmpeg.output(
        *streams,
        str(out_file),
        c="copy",
        f="mp4",
        # moov first: browsers start playing before the whole file arrives.
        movflags="+faststart",
    )
    return finish_args(out, ffmpeg_bin)
