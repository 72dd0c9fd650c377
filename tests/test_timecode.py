"""SMPTE timecode maths: known labels from the standard's arithmetic, and properties
(Hypothesis) that hold for every frame at 23.976, 24, 25, 29.97 DF/NDF, 30, 50, 59.94 DF, 60."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailies.timecode import (
    InvalidTimecode,
    TimecodeRate,
    frame_to_label,
    is_drop_frame_label,
    label_to_frame,
    rate_for,
    source_timing,
)

DF30 = TimecodeRate(30, drop_frame=True)
DF60 = TimecodeRate(60, drop_frame=True)
RATES = [TimecodeRate(24), TimecodeRate(25), TimecodeRate(30), DF30, TimecodeRate(50),
         TimecodeRate(60), DF60]  # fmt: skip
rates = st.sampled_from(RATES)


@pytest.mark.parametrize(
    ("frame", "rate", "label"),
    [
        (0, TimecodeRate(24), "00:00:00:00"),
        (86400, TimecodeRate(24), "01:00:00:00"),  # 23.976 counts 24 labels a second
        (86430, TimecodeRate(24), "01:00:01:06"),
        (1799, DF30, "00:00:59;29"),
        (1800, DF30, "00:01:00;02"),  # ;00 and ;01 are skipped at minute 1
        (17982, DF30, "00:10:00;00"),  # …but not at minute 10
        (17981, DF30, "00:09:59;29"),
        (107892, DF30, "01:00:00;00"),  # an hour of 29.97 DF is exactly 107 892 frames
        (107892, TimecodeRate(30), "00:59:56:12"),  # the same frames non-drop lag 3.6 s
        (3600, DF60, "00:01:00;04"),  # 59.94 DF skips four labels
        (2589408, DF30, "00:00:00;00"),  # 24 hours wrap
    ],
)
def test_known_labels(frame: int, rate: TimecodeRate, label: str) -> None:
    assert frame_to_label(frame, rate) == label
    assert label_to_frame(label, rate) == frame % rate.frames_per_day


@settings(max_examples=400, deadline=None)
@given(rate=rates, data=st.data())
def test_every_frame_round_trips(rate: TimecodeRate, data: st.DataObject) -> None:
    frame = data.draw(st.integers(min_value=0, max_value=rate.frames_per_day - 1))
    assert label_to_frame(frame_to_label(frame, rate), rate) == frame


@settings(max_examples=400, deadline=None)
@given(rate=rates, data=st.data())
def test_next_frame_is_the_next_label(rate: TimecodeRate, data: st.DataObject) -> None:
    """Consecutive frames get consecutive labels: the frame field steps by one, or rolls over
    into the next second, skipping exactly the drop-frame labels and nothing else."""
    frame = data.draw(st.integers(min_value=0, max_value=rate.frames_per_day - 2))
    here, there = frame_to_label(frame, rate), frame_to_label(frame + 1, rate)
    h, m, s, f = _split(here)
    h2, m2, s2, f2 = _split(there)
    if f + 1 < rate.nominal:
        assert (h2, m2, s2, f2) == (h, m, s, f + 1)
    else:
        seconds = h * 3600 + m * 60 + s + 1
        expected_h, rest = divmod(seconds, 3600)
        expected_m, expected_s = divmod(rest, 60)
        skipped = rate.dropped_per_minute if expected_s == 0 and expected_m % 10 else 0
        assert (h2, m2, s2, f2) == (expected_h, expected_m, expected_s, skipped)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), rate=st.sampled_from([DF30, DF60]))
def test_drop_frame_never_shows_a_dropped_label(rate: TimecodeRate, data: st.DataObject) -> None:
    frame = data.draw(st.integers(min_value=0, max_value=rate.frames_per_day - 1))
    _, m, s, f = _split(frame_to_label(frame, rate))
    assert not (s == 0 and m % 10 and f < rate.dropped_per_minute)
    assert ";" in frame_to_label(frame, rate)


@settings(max_examples=200, deadline=None)
@given(minutes=st.integers(min_value=0, max_value=24 * 60 - 1))
def test_drop_frame_stays_close_to_real_time(minutes: int) -> None:
    """The point of drop-frame: at 29.97 a label names (nearly) the wall-clock time."""
    first = 0 if minutes % 10 == 0 else 2  # the first label of the minute
    frame = label_to_frame(f"{minutes // 60:02d}:{minutes % 60:02d}:00;{first:02d}", DF30)
    labelled_s = 60 * minutes + Fraction(first, 30)
    real_s = Fraction(frame * 1001, 30000)
    # within 0.2 s all day long (86.4 ms of it is the daily residue); non-drop drifts 86.4 s
    assert abs(real_s - labelled_s) < Fraction(1, 5)


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("00:01:00;00", "'00:01:00;00' is a label drop-frame counting skips"),
        ("00:01:00;01", "'00:01:00;01' is a label drop-frame counting skips"),
        ("24:00:00:00", "'24:00:00:00' is out of range at 30 frames a second"),
        ("00:60:00:00", "'00:60:00:00' is out of range at 30 frames a second"),
        ("00:00:60:00", "'00:00:60:00' is out of range at 30 frames a second"),
        ("00:00:00:30", "'00:00:00:30' is out of range at 30 frames a second"),
        ("1:2:3", "not a timecode: '1:2:3' (expected HH:MM:SS:FF)"),
    ],
)
def test_impossible_labels_are_refused(label: str, reason: str) -> None:
    with pytest.raises(InvalidTimecode) as refused:
        label_to_frame(label, DF30 if ";" in label else TimecodeRate(30))
    assert str(refused.value) == reason


def test_the_last_labels_of_each_field_are_accepted() -> None:
    assert label_to_frame("23:59:59:29", TimecodeRate(30)) == TimecodeRate(30).frames_per_day - 1
    assert label_to_frame("00:00:00;02", DF30) == 2  # only minutes not divisible by 10 skip


@pytest.mark.parametrize(
    ("nominal", "drop", "reason"),
    [
        (0, False, "a timecode rate needs 1 frame a second or more: 0"),
        (25, True, "drop-frame timecode exists only for 29.97 and 59.94 (nominal 30/60), "
                   "not nominal 25"),
    ],
)  # fmt: skip
def test_impossible_rates_are_refused(nominal: int, drop: bool, reason: str) -> None:
    with pytest.raises(InvalidTimecode) as refused:
        TimecodeRate(nominal, drop)
    assert str(refused.value) == reason


def test_a_one_frame_a_second_rate_counts_one_label_a_second() -> None:
    assert rate_for(Fraction(1)) == TimecodeRate(1)
    assert rate_for(Fraction(1, 3)) == TimecodeRate(1)  # below 1 fps still counts 1
    assert frame_to_label(61, TimecodeRate(1)) == "00:01:01:00"


@pytest.mark.parametrize(
    ("label", "drop"),
    [("00:00:00;00", True), ("00:00:00.00", True), ("00:00:00,00", True),
     ("00:00:00:00", False), ("not a label", False)],
)  # fmt: skip
def test_drop_frame_labels_are_told_by_their_separator(label: str, drop: bool) -> None:
    assert is_drop_frame_label(label) is drop


def test_rates_of_real_footage() -> None:
    assert rate_for(Fraction(24000, 1001)) == TimecodeRate(24)
    assert rate_for(Fraction(30000, 1001)) == TimecodeRate(30)  # non-drop unless asked
    assert rate_for(Fraction(30000, 1001), drop_frame=True) == DF30
    assert rate_for(Fraction(60000, 1001), drop_frame=True) == DF60
    # drop-frame does not exist at 25 or at an exact 30: the label is counted non-drop
    assert rate_for(Fraction(25), drop_frame=True) == TimecodeRate(25)
    assert rate_for(Fraction(30), drop_frame=True) == TimecodeRate(30)


def test_source_timing_from_a_master_tag() -> None:
    df = source_timing("00:00:59;28", Fraction(30000, 1001))
    assert (df.start_frame, df.rate, df.label_at(2)) == (1798, DF30, "00:01:00;02")
    film = source_timing("01:00:00:00", Fraction(24000, 1001))
    assert film.label_at(30) == "01:00:01:06"
    assert film.as_json() == {
        "start_timecode": "01:00:00:00",
        "start_frame": 86400,
        "frame_rate": "24000/1001",
        "fps": 24000 / 1001,
        "timecode_rate": 24,
        "drop_frame": False,
        "source": "tmcd",
    }
    assert source_timing("00:00:01;00", Fraction(30000, 1001), "video").as_json() == {
        "start_timecode": "00:00:01;00",
        "start_frame": 30,
        "frame_rate": "30000/1001",
        "fps": 30000 / 1001,
        "timecode_rate": 30,
        "drop_frame": True,
        "source": "video",
    }
    # a non-drop tag on 29.97 footage is counted non-drop
    assert source_timing("00:01:00:00", Fraction(30000, 1001)).rate == TimecodeRate(30)
    untagged = source_timing(None, Fraction(25))
    assert (untagged.start_timecode, untagged.source) == ("00:00:00:00", "none")
    assert (untagged.frame_rate, untagged.rate) == (Fraction(25), TimecodeRate(25))
    # a tag no frame can carry at this rate counts from zero rather than mislabel frames
    assert source_timing("00:00:00:29", Fraction(25)).source == "none"


def _split(label: str) -> tuple[int, int, int, int]:
    h, m, rest = label.split(":", 2)
    s, f = rest.replace(";", ":").split(":")
    return int(h), int(m), int(s), int(f)
