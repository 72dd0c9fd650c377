from pathlib import Path

from dailies.media.commands.storyboard import build_storyboard_args
from dailies.media.storyboard import plan_storyboard
from tests.media.conftest import opt


def test_storyboard_tiles_thumbnails():
    plan = plan_storyboard(25.0, 640, 360)
    args = build_storyboard_args(Path("/s/360p.mp4"), plan, Path("/s/sb.jpg"))
    assert "fps=fps=1/1" in opt(args, "-filter_complex")
    assert "scale=160:90" in opt(args, "-filter_complex")
    assert "tile=10x3" in opt(args, "-filter_complex")
