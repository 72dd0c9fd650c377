"""Probe JSON as ffprobe prints it, and argv helpers, for the pure media tests (no services
needed)."""

from __future__ import annotations

from typing import Any

import pytest

from dailies.media.probe import MasterProbe, parse_probe


def ffprobe_doc(
    width: int = 1920,
    height: int = 1080,
    codec: str = "h264",
    pix_fmt: str = "yuv420p",
    rate: str = "30/1",
    avg_rate: str | None = None,
    duration: str = "3.000000",
    field_order: str = "progressive",
    rotation: float | None = None,
    sar: str = "1:1",
    transfer: str | None = None,
    audio_channels: int | None = 2,
    audio_codec: str = "aac",
) -> dict[str, Any]:
    video: dict[str, Any] = {
        "index": 0,
        "codec_type": "video",
        "codec_name": codec,
        "width": width,
        "height": height,
        "pix_fmt": pix_fmt,
        "r_frame_rate": rate,
        "avg_frame_rate": avg_rate or rate,
        "field_order": field_order,
        "sample_aspect_ratio": sar,
        "disposition": {"attached_pic": 0},
    }
    if rotation is not None:
        video["side_data_list"] = [{"side_data_type": "Display Matrix", "rotation": rotation}]
    if transfer:
        video["color_transfer"] = transfer
    streams = [video]
    if audio_channels:
        streams.append(
            {
                "index": 1,
                "codec_type": "audio",
                "codec_name": audio_codec,
                "channels": audio_channels,
                "sample_rate": "48000",
            }
        )
    return {
        "streams": streams,
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": duration},
    }


def probe_of(**kwargs: Any) -> MasterProbe:
    return parse_probe(ffprobe_doc(**kwargs))


def opt(args: list[str], name: str) -> str:
    """The value that follows an option in an ffmpeg argv."""
    return args[args.index(name) + 1]


@pytest.fixture
def make_probe():  # type: ignore[no-untyped-def]
    return probe_of
