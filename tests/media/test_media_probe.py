from fractions import Fraction

import pytest

from dailies.errors import UnplayableMaster
from dailies.media.probe import parse_probe
from tests.media.conftest import ffprobe_doc, probe_of


@pytest.mark.parametrize(
    ("kwargs", "size", "rotation"),
    [
        ({}, (1920, 1080), 0),
        ({"rotation": -90}, (1080, 1920), 270),
        ({"rotation": 90}, (1080, 1920), 90),
        ({"rotation": 180}, (1920, 1080), 180),
        ({"width": 1440, "height": 1080, "sar": "4:3"}, (1920, 1080), 0),  # anamorphic
        ({"width": 720, "height": 576, "sar": "64:45", "rotation": 90}, (576, 1024), 90),
        ({"width": 853, "height": 479}, (853, 479), 0),
    ],
)
def test_display_size_accounts_for_rotation_and_pixel_aspect(kwargs, size, rotation):
    probe = probe_of(**kwargs)
    assert (probe.width, probe.height) == size
    assert probe.rotation == rotation


def test_rotate_tag_is_read_when_there_is_no_display_matrix():
    doc = ffprobe_doc(width=640, height=360)
    doc["streams"][0]["tags"] = {"rotate": "90"}
    probe = parse_probe(doc)
    assert (probe.width, probe.height, probe.portrait) == (360, 640, True)


@pytest.mark.parametrize(
    ("kwargs", "depth", "hdr", "interlaced"),
    [
        ({}, 8, False, False),
        ({"pix_fmt": "yuv420p10le"}, 10, False, False),
        ({"pix_fmt": "yuv420p10le", "transfer": "smpte2084"}, 10, True, False),
        ({"pix_fmt": "yuv420p10le", "transfer": "arib-std-b67"}, 10, True, False),
        ({"pix_fmt": "p010le"}, 10, False, False),
        ({"pix_fmt": "yuv422p12le"}, 12, False, False),
        ({"field_order": "tt"}, 8, False, True),
        ({"field_order": "bb"}, 8, False, True),
    ],
)
def test_bit_depth_hdr_and_interlacing(kwargs, depth, hdr, interlaced):
    probe = probe_of(**kwargs)
    assert (probe.bit_depth, probe.hdr, probe.interlaced) == (depth, hdr, interlaced)


@pytest.mark.parametrize(
    ("rate", "avg", "vfr"),
    [("30/1", "30/1", False), ("30/1", "2997/100", False), ("60/1", "4481/150", True)],
)
def test_variable_frame_rate_detection(rate, avg, vfr):
    probe = probe_of(rate=rate, avg_rate=avg)
    assert probe.variable_frame_rate is vfr
    assert probe.frame_rate == Fraction(avg)


def test_audio_is_optional():
    assert probe_of(audio_channels=None).audio is None
    audio = probe_of(audio_channels=6).audio
    assert audio is not None and audio.channels == 6


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"streams": [], "format": {"duration": "1"}}, "no video stream"),
        (
            {"streams": [{"codec_type": "audio", "channels": 2}], "format": {"duration": "1"}},
            "no video stream (found: audio)",
        ),
        (
            {
                "streams": [
                    {"codec_type": "audio", "channels": 2},
                    # cover art in an audio file is not a video
                    {
                        "codec_type": "video",
                        "width": 600,
                        "height": 600,
                        "disposition": {"attached_pic": 1},
                    },
                ],
                "format": {"duration": "3"},
            },
            "no video stream",
        ),
        (ffprobe_doc(width=0, height=0), "no picture size"),
        (ffprobe_doc(duration="0"), "no duration"),
        (ffprobe_doc(rate="0/0"), "no frame rate"),
    ],
)
def test_unusable_masters_say_why(doc, reason):
    with pytest.raises(UnplayableMaster, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_probe(doc)


@pytest.mark.parametrize(
    ("rate", "timecode", "suffix", "start", "label_at_30"),
    [
        ("24000/1001", "01:00:00:00", ".mov", "01:00:00:00", "01:00:01:06"),
        ("30000/1001", "00:00:59;28", ".mp4", "00:00:59;28", "00:01:01;00"),
        ("25", None, ".mp4", "00:00:00:00", "00:00:01:05"),
    ],
)
def test_start_timecode_is_read_from_a_real_master(
    tmp_path, rate, timecode, suffix, start, label_at_30
):
    """ffmpeg -timecode writes a tmcd track (what cameras and NLEs write); ffprobe shows it as
    a data stream. No timecode: the page counts from 00:00:00:00."""
    import subprocess

    from dailies.media.commands.probe import ffprobe_args
    from dailies.media.runner import run_ffprobe

    master = tmp_path / f"master{suffix}"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
         "-i", f"testsrc2=s=160x90:r={rate}:d=0.5", "-c:v", "libx264", "-preset", "ultrafast",
         *(["-timecode", timecode] if timecode else []), str(master)],
        check=True, timeout=60,
    )  # fmt: skip
    probe = parse_probe(run_ffprobe(ffprobe_args("ffprobe", str(master))))
    assert probe.frame_rate == Fraction(rate)
    assert (probe.timecode, probe.timecode_source) == (
        (timecode, "tmcd") if timecode else (None, "none")
    )
    timing = probe.timing
    assert timing.start_timecode == start
    assert timing.rate.drop_frame == bool(timecode and ";" in timecode)
    assert timing.label_at(30) == label_at_30
