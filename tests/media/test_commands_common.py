import ffmpeg

from dailies.media.commands.common import finish_args, progress_args, segment_prefix


def test_segment_names_carry_the_ladder_version():
    assert segment_prefix("3") == "v3"


def test_global_options_come_first_and_overwrite():
    args = finish_args(ffmpeg.input("/s/in").output("/s/out"), "/opt/ffmpeg")
    assert args[0] == "/opt/ffmpeg"
    assert args[1 : 1 + len(progress_args())] == progress_args()
    assert args[1 + len(progress_args())] == "-y" and args[-1] == "/s/out"
