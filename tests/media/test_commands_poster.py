from pathlib import Path

import pytest

from dailies.media.commands.poster import build_poster_args, poster_time
from tests.media.conftest import opt


@pytest.mark.parametrize(
    ("duration", "at"), [(3.0, 0.3), (0.04, 0.0), (60.0, 6.0), (3600.0, 10.0), (0.5, 0.05)]
)
def test_poster_is_a_tenth_in_and_inside_the_clip(duration, at):
    assert poster_time(duration) == at


def test_poster_seeks_then_takes_one_frame():
    args = build_poster_args(Path("/s/1080p.mp4"), 30.0, Path("/s/poster.jpg"))
    assert opt(args, "-ss") == "3.0" and args.index("-ss") < args.index("-i")
    assert opt(args, "-vframes") == "1"
