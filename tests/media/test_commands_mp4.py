from pathlib import Path

from dailies.media.commands.mp4 import build_mp4_args
from tests.media.conftest import opt


def test_mp4_remuxes_a_rendition_with_faststart():
    args = build_mp4_args(Path("/s/720p.mp4"), Path("/s/audio.mp4"), Path("/s/preview.mp4"))
    assert args.count("-i") == 2 and opt(args, "-c") == "copy"
    assert opt(args, "-movflags") == "+faststart" and args[-1] == "/s/preview.mp4"
    assert build_mp4_args(Path("/s/v.mp4"), None, Path("/s/p.mp4")).count("-map") == 1
