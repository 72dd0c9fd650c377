from fractions import Fraction
from typing import Any

import pytest

from dailies.errors import UnplayableMaster
from dailies.media.probe import AudioInfo, MasterProbe, first_frame_time, parse_probe
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


def doc_with(
    video: dict[str, Any] | None = None,
    fmt: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """ffprobe_doc() with fields of its video stream, format or audio stream replaced
    (a None value removes the field)."""
    doc = ffprobe_doc()
    for part, changes in ((doc["streams"][0], video), (doc["format"], fmt),
                          (doc["streams"][1], audio)):  # fmt: skip
        part.update(changes or {})
        for name in [k for k, v in part.items() if v is None]:
            del part[name]
    return doc


def test_every_field_of_a_full_probe():
    doc = doc_with(
        video={"codec_name": "prores", "pix_fmt": "yuv422p10le", "width": 1440, "height": 1080,
               "sample_aspect_ratio": "4:3", "color_transfer": "bt709", "field_order": "tt",
               "tags": {"timecode": "01:00:00:00"}},
        fmt={"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "bit_rate": "147000000",
             "duration": "12.5"},
        audio={"codec_name": "pcm_s24le", "channels": 1, "sample_rate": "48000"},
    )  # fmt: skip
    assert parse_probe(doc) == MasterProbe(
        duration_s=12.5, container="mov,mp4,m4a,3gp,3g2,mj2", video_codec="prores",
        pix_fmt="yuv422p10le", bit_depth=10, width=1920, height=1080, coded_width=1440,
        coded_height=1080, rotation=0, frame_rate=Fraction(30), variable_frame_rate=False,
        interlaced=True, hdr=False, color_transfer="bt709", bit_rate=147_000_000,
        audio=AudioInfo("pcm_s24le", 1, 48000), timecode="01:00:00:00", timecode_source="video",
    )  # fmt: skip


def test_missing_optional_fields_take_their_defaults():
    probe = parse_probe(doc_with(
        video={"codec_name": None, "pix_fmt": None, "sample_aspect_ratio": None},
        fmt={"format_name": None, "bit_rate": "N/A"},
        audio={"codec_name": None, "sample_rate": None},
    ))  # fmt: skip
    assert (probe.video_codec, probe.pix_fmt, probe.container, probe.bit_rate) == ("", "", "", None)
    assert (probe.width, probe.height, probe.color_transfer) == (1920, 1080, None)
    assert probe.audio == AudioInfo("", 2, 0)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"streams": [], "format": {"duration": "1"}},
         "the master has no video stream (found: none); previews need a video file"),
        ({"streams": [{"codec_type": "data"}, {"codec_type": "audio"}], "format": {}},
         "the master has no video stream (found: audio, data); previews need a video file"),
        (doc_with(video={"width": 0}),
         "the video stream (h264) has no picture size; the file is probably truncated or corrupt"),
        (doc_with(video={"height": None, "codec_name": None}),
         "the video stream (unknown codec) has no picture size; "
         "the file is probably truncated or corrupt"),
        (doc_with(video={"width": None}), "the video stream (h264) has no picture size; "
                                          "the file is probably truncated or corrupt"),
        (doc_with(video={"height": 0}), "the video stream (h264) has no picture size; "
                                        "the file is probably truncated or corrupt"),
        (doc_with(fmt={"duration": "-1"}),
         "the master reports no duration; it is probably truncated"),
        (doc_with(video={"r_frame_rate": "-30/1", "avg_frame_rate": "-30/1"}),
         "the video stream reports no frame rate; it is probably corrupt"),
    ],
)  # fmt: skip
def test_unusable_masters_say_exactly_why(doc, reason):
    with pytest.raises(UnplayableMaster) as refused:
        parse_probe(doc)
    assert str(refused.value) == reason


def test_a_one_pixel_picture_is_a_picture():
    assert (probe_of(width=1, height=1).width, probe_of(width=1, height=1).height) == (1, 1)


def test_narrow_pixels_make_a_narrower_picture():
    assert (probe_of(width=720, height=480, sar="8:9").width) == 640  # NTSC DV 4:3


@pytest.mark.parametrize(
    ("fmt_duration", "video_duration", "expected"),
    [("3.5", "2.5", 3.5), (None, "2.5", 2.5), ("0", "2.5", 2.5), ("N/A", "2.5", 2.5)],
)
def test_the_duration_falls_back_to_the_video_streams(fmt_duration, video_duration, expected):
    doc = doc_with(video={"duration": video_duration}, fmt={"duration": fmt_duration})
    assert parse_probe(doc).duration_s == expected


@pytest.mark.parametrize(
    ("side_data", "tags", "rotation"),
    [
        ([{"side_data_type": "Display Matrix"}], {"rotate": "90"}, 90),  # matrix without angle
        ([{"side_data_type": "Stereo 3D", "rotation": 90}], None, 0),  # not the display matrix
        (None, {"rotate": "upside down"}, 0),
        ([{"side_data_type": "Display Matrix", "rotation": 136}], None, 180),  # nearest quarter
        ([{"side_data_type": "Display Matrix", "rotation": -134}], None, 270),
    ],
)
def test_rotation_is_the_display_matrix_angle_to_the_nearest_quarter_turn(
    side_data, tags, rotation
):
    assert parse_probe(doc_with(video={"side_data_list": side_data, "tags": tags})).rotation == (
        rotation
    )


@pytest.mark.parametrize(
    ("real", "avg", "vfr"),
    [
        ("100/1", "99/1", False),  # exactly 1 % off: still constant
        ("100/1", "19900/201", False),  # 0.995 % off: constant
        ("100/1", "197/2", True),  # 1.5 %
        ("30/1", "0/1", False),  # no average: the base rate, not variable
    ],
)
def test_variable_frame_rate_is_more_than_one_percent_off_the_base_rate(real, avg, vfr):
    probe = parse_probe(doc_with(video={"r_frame_rate": real, "avg_frame_rate": avg}))
    assert probe.variable_frame_rate is vfr


@pytest.mark.parametrize(
    ("pix_fmt", "bits", "depth"),
    [
        ("p210le", None, 10), ("p410le", None, 10), ("yuv444p16le", None, 16),
        ("yuv444p14le", None, 14), ("yuv420p9le", None, 9), ("gbrp", "12", 12),
        ("gbrp", "N/A", 8), ("gbrp", 0, 8), ("gbrp", None, 8),
    ],
)  # fmt: skip
def test_bit_depth_from_the_pixel_format_else_the_raw_sample_size(pix_fmt, bits, depth):
    doc = doc_with(video={"pix_fmt": pix_fmt, "bits_per_raw_sample": bits})
    assert parse_probe(doc).bit_depth == depth


@pytest.mark.parametrize(
    ("audio", "expected"),
    [
        ({"channels": 1}, AudioInfo("aac", 1, 48000)),  # mono is audio
        ({"channels": 0}, None),
        ({"channels": None}, None),
    ],
)
def test_only_an_audio_stream_with_channels_is_audio(audio, expected):
    assert parse_probe(doc_with(audio=audio)).audio == expected


@pytest.mark.parametrize(
    ("extra_stream", "video_tags", "format_tags", "found"),
    [
        ({"codec_type": "data", "codec_tag_string": "tmcd", "tags": {"timecode": "01:00:00:00"}},
         None, None, ("01:00:00:00", "tmcd")),
        ({"codec_type": "data", "codec_name": "tmcd", "tags": {"timecode": "02:00:00:00"}},
         {"timecode": "09:00:00:00"}, None, ("02:00:00:00", "tmcd")),
        (None, {"timecode": "03:00:00:00"}, {"timecode": "09:00:00:00"}, ("03:00:00:00", "video")),
        (None, None, {"timecode": "04:00:00:00"}, ("04:00:00:00", "format")),
        (None, None, None, (None, "none")),
    ],
)  # fmt: skip
def test_the_start_timecode_comes_from_tmcd_then_video_then_format_tags(
    extra_stream, video_tags, format_tags, found
):
    doc = doc_with(video={"tags": video_tags}, fmt={"tags": format_tags})
    if extra_stream:
        doc["streams"].append(extra_stream)
    probe = parse_probe(doc)
    assert (probe.timecode, probe.timecode_source) == found


@pytest.mark.parametrize(
    ("frames", "time"),
    [
        ([{"pts_time": "0.0333667"}], 0.033367),  # to the microsecond
        ([{"pts_time": "N/A", "best_effort_timestamp_time": "0.5"}], 0.5),
        ([{"best_effort_timestamp_time": "0.25"}], 0.25),
        ([{}, {"pts_time": "1.0"}], 1.0),  # a frame without a time is skipped
        ([], None),
        # after the first packet's decode time: a B-frame encode's delay (DTS a hair early)
        (
            [{"type": "packet", "dts_time": "-0.000733"}, {"type": "frame", "pts_time": "0.066"}],
            0.066733,
        ),
        # a remux moved 21 ms on for AAC priming: PTS = DTS, the browser shows it at 0
        ([{"type": "packet", "dts_time": "0.021"}, {"type": "frame", "pts_time": "0.021"}], 0.0),
        ([{"type": "packet", "dts_time": "N/A"}, {"type": "frame", "pts_time": "0.08"}], 0.08),
    ],
)
def test_the_first_frame_time(frames, time):
    assert first_frame_time({"packets_and_frames": frames}) == time
    if not any("type" in entry for entry in frames):  # ffprobe's answer with frames only
        assert first_frame_time({"frames": frames}) == time
    assert first_frame_time({}) is None


def test_the_first_frame_time_of_a_real_b_frame_encode(tmp_path):
    """libx264 with 2 B-frames and no edit list (as in fMP4 segments) starts its pictures
    2 frames after zero: 0.08 s at 25 fps. ffprobe reads only that first frame."""
    import subprocess

    from dailies.media.commands.probe import first_frame_args
    from dailies.media.runner import run_ffprobe

    master = tmp_path / "bframes.mp4"
    args = first_frame_args("ffprobe", str(master))
    assert args == [
        "ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
        "-show_entries", "packet=dts_time:frame=pts_time,best_effort_timestamp_time",
        "-print_format", "json",
        str(master),
    ]  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
         "-i", "testsrc2=s=160x90:r=25:d=0.5", "-c:v", "libx264", "-preset", "ultrafast",
         "-bf", "2", "-use_editlist", "0", str(master)],
        check=True, timeout=60,
    )  # fmt: skip
    assert first_frame_time(run_ffprobe(args)) == 0.08
