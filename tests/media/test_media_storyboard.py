import pytest

from dailies.media.storyboard import plan_storyboard, render_storyboard_vtt, vtt_timestamp


@pytest.mark.parametrize(
    ("duration", "size", "interval", "count", "grid", "tile"),
    [
        (3.0, (1920, 1080), 1, 3, (3, 1), (160, 90)),
        (25.0, (640, 360), 1, 25, (10, 3), (160, 90)),
        (3600.0, (1920, 1080), 36, 100, (10, 10), (160, 90)),
        (0.4, (360, 640), 1, 1, (1, 1), (90, 160)),  # very short, portrait
    ],
)
def test_storyboard_plan(duration, size, interval, count, grid, tile):
    plan = plan_storyboard(duration, *size)
    assert plan.interval_s == interval and plan.count == count
    assert (plan.columns, plan.rows) == grid
    assert (plan.tile_width, plan.tile_height) == tile


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "00:00:00.000"), (61.5, "00:01:01.500"), (3725.042, "01:02:05.042")]
)
def test_vtt_timestamp(seconds, text):
    assert vtt_timestamp(seconds) == text


def test_vtt_cues_point_into_the_sprite_grid():
    plan = plan_storyboard(12.5, 1920, 1080)
    text = render_storyboard_vtt(plan, 12.5, "storyboard-v1.jpg")
    assert text.startswith("WEBVTT\n")
    cues = [line for line in text.splitlines() if "#xywh=" in line]
    assert len(cues) == 13
    assert cues[0] == "storyboard-v1.jpg#xywh=0,0,160,90"
    assert cues[10] == "storyboard-v1.jpg#xywh=0,90,160,90"  # second row
    assert "00:00:12.000 --> 00:00:12.500" in text  # last cue ends with the clip
