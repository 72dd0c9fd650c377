from pathlib import Path

from dailies.media.commands.storyboard import build_storyboard_args
from dailies.media.storyboard import plan_storyboard
from tests.media.conftest import opt


def test_storyboard_tiles_thumbnails():
    plan = plan_storyboard(25.0, 640, 360)
    args = build_storyboard_args(Path("/s/360p.mp4"), plan, Path("/s/sb.jpg"))
    assert "select=isnan(prev_selected_t)" in opt(args, "-filter_complex")
    assert "scale=160:90" in opt(args, "-filter_complex")
    assert "tile=10x3" in opt(args, "-filter_complex")


def test_short_clip_storyboard_selects_its_first_frame(tmp_path: Path) -> None:
    """A 0.3 s clip: the fps filter gave no frame (and no sprite); select keeps the first."""
    import subprocess

    clip, sprite = tmp_path / "blink.mp4", tmp_path / "sb.jpg"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=0.3",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)],
        check=True, timeout=60,
    )  # fmt: skip
    plan = plan_storyboard(0.3, 320, 180)
    subprocess.run(build_storyboard_args(clip, plan, sprite), check=True, timeout=60)
    assert sprite.stat().st_size > 0
