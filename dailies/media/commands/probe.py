"""The ffprobe command that describes a master; parsing its JSON is dailies/media/probe.py."""

from __future__ import annotations

from dailies.media.commands.common import input_protocols


def ffprobe_args(ffprobe_bin: str, source: str) -> list[str]:
    return [
        ffprobe_bin,
        "-v", "error",
        "-hide_banner",
        "-print_format", "json",
        "-show_format",
        "-show_streams",
        "-protocol_whitelist", input_protocols(source),
        source,
    ]  # fmt: skip
