"""Masters editors really send that are not plain progressive 8-bit H.264: variable frame
rate, interlaced, DNxHD in MOV and 10-bit H.264, through both encodes a reviewer sees: the
first rendition (tasks/first_rendition.py, the task worker's path) and the ladder (flows/preview.py
build_preview). Each output is decoded in full by ffmpeg and checked for what a browser needs:
8-bit 4:2:0 H.264, progressive pictures, timestamps that only go forward, the master's length,
and a constant frame rate where we encode. Plus the first rendition of a corrupt master: a
clear failure with a reason, nothing published. Real stack (moto over HTTP, Postgres, Prefect
server); masters from ffmpeg's lavfi sources, small and short."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from dailies.clients import s3_client
from dailies.errors import UnplayableMaster
from flows.preview import build_preview
from tasks.first_rendition import publish_first_rendition
from tests import preview_fixtures as media

pytestmark = pytest.mark.slow

# What a browser's H.264 decoder takes: 8-bit 4:2:0 profiles (not High 10, 4:2:2 or 4:4:4).
BROWSER_PROFILES = {"Constrained Baseline", "Baseline", "Main", "High"}
# Comb level (media.comb_level) of the interlaced master shown as it is: about 12.
COMBED = 4.0
# name: (maker, file name, whether the first rendition remuxes it as it is)
MASTERS: dict[str, tuple[Callable[[Path], Path], str, bool]] = {
    # H.264/AAC 4:2:0, so remuxed: a browser plays variable frame rate fMP4.
    "variable_rate": (media.make_variable_rate, "vfr.mp4", True),
    "interlaced": (media.make_interlaced, "25i.mp4", False),
    "dnxhd": (media.make_dnxhd, "dnxhd.mov", False),
    "ten_bit": (media.make_ten_bit_h264, "high10.mp4", False),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("awkward-masters")


@pytest.fixture(params=MASTERS)
def case(request: pytest.FixtureRequest) -> str:
    """Each awkward master, for each encode."""
    return str(request.param)


def _promoted(stack: Any, clips: Path, case: str, use: str) -> tuple[str, Path]:
    """A fresh master per encode (each maker tags its output uniquely): no sha is shared."""
    make, name, _ = MASTERS[case]
    path = make(clips / f"{use}-{name}")
    return media.stage_and_promote(s3_client(stack), stack, path), path


def _duration(path: Path) -> float:
    return float(media.ffprobe_json(str(path), "-show_format")["format"]["duration"])


def assert_decodes_cleanly(url: str) -> None:
    assert media.decode_errors(url) == (0, ""), url


def assert_plays_in_a_browser(url: str, source_s: float, constant_rate: bool) -> dict[str, Any]:
    """8-bit 4:2:0 H.264, progressive, timestamps strictly increasing and spanning the
    master's length; every frame the same length when `constant_rate`."""
    assert_decodes_cleanly(url)
    probed = media.ffprobe_json(
        url, "-select_streams", "v:0", "-show_entries",
        "stream=codec_name,profile,pix_fmt,field_order,width,height,r_frame_rate,"
        "avg_frame_rate:frame=pts_time,pkt_duration_time",
    )  # fmt: skip
    (video,) = probed["streams"]
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p", video
    assert video["profile"] in BROWSER_PROFILES, video
    assert video.get("field_order", "progressive") == "progressive", video
    times = [float(f["pts_time"]) for f in probed["frames"]]
    steps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) > 10 and min(steps) > 0, times
    last = float(probed["frames"][-1].get("pkt_duration_time") or steps[-1])
    assert times[-1] + last - times[0] == pytest.approx(source_s, abs=0.1)
    if constant_rate:
        frame_s = 1 / Fraction(video["r_frame_rate"])
        assert video["avg_frame_rate"] == video["r_frame_rate"], video
        assert max(abs(s - frame_s) for s in steps) < 0.002, (frame_s, steps)
    return dict(video)


def assert_progressive_pictures(case: str, url: str, video: dict[str, Any]) -> None:
    """The flag says progressive for any x264 output; the pixels say whether the fields were
    really made into frames (the master's are woven, combed at every moving edge)."""
    if case == "interlaced":
        assert media.comb_level(url, video["width"], video["height"]) < COMBED / 4


def test_the_interlaced_master_is_combed_as_it_comes(clips: Path) -> None:
    """What the deinterlacing checks measure against: the master itself combs."""
    path = media.make_interlaced(clips / "as-shot-25i.mp4")
    (video,) = media.ffprobe_json(str(path), "-select_streams", "v:0", "-show_streams")["streams"]
    assert video["field_order"] == "tt"
    assert media.comb_level(str(path), video["width"], video["height"]) > COMBED


def test_first_rendition_of_an_awkward_master_plays(
    case: str, stack: Any, clips: Path, previews_url: str
) -> None:
    sha, path = _promoted(stack, clips, case, "first")
    result = publish_first_rendition(sha)
    remuxed = MASTERS[case][2]
    assert result["status"] == "published" and result["manifest_written"], result
    assert result["copy"] is remuxed
    url = f"{previews_url}/{sha}/first/index.m3u8"
    video = assert_plays_in_a_browser(url, _duration(path), constant_rate=not remuxed)
    assert_progressive_pictures(case, url, video)
    assert_decodes_cleanly(f"{previews_url}/{sha}/manifest.m3u8")


def test_ladder_of_an_awkward_master_plays(
    case: str, stack: Any, clips: Path, previews_url: str
) -> None:
    sha, path = _promoted(stack, clips, case, "ladder")
    result = build_preview(sha)
    assert result["status"] == "ready" and result["encoder"] == "libx264", result
    renditions = {r["name"]: r["kind"] for r in result["renditions"]}
    assert renditions.pop("audio") == "audio" and renditions, result["renditions"]
    (rate,) = _multivariant_frame_rates(stack, sha)  # the rate planned from the master's average
    for name in renditions:
        url = f"{previews_url}/{sha}/{name}/index.m3u8"
        video = assert_plays_in_a_browser(url, _duration(path), constant_rate=True)
        assert video["profile"] == "High", video
        # The rate the multivariant playlist promises is the one encoded (ffmpeg's own CFR
        # default would repeat a VFR master's frames at its 30 fps tick rate instead).
        assert float(Fraction(video["r_frame_rate"])) == pytest.approx(rate, abs=0.001), video
        assert_progressive_pictures(case, url, video)
    assert_decodes_cleanly(f"{previews_url}/{sha}/audio/index.m3u8")


def _multivariant_frame_rates(stack: Any, sha: str) -> set[float]:
    body = s3_client(stack).get_object(Bucket=stack.previews_bucket, Key=f"{sha}/manifest.m3u8")
    lines = body["Body"].read().decode().splitlines()
    return {
        float(line.split("FRAME-RATE=")[1].split(",")[0]) for line in lines if "FRAME-RATE=" in line
    }


def _truncated(path: Path) -> Path:
    """A ProRes MOV cut off mid-upload: its index (moov, written last) never arrived."""
    media.make_prores_hq(path, seconds=1, size="320x240")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("make", "name"), [(media.make_corrupt, "blob.mp4"), (_truncated, "truncated.mov")]
)
def test_first_rendition_of_a_corrupt_master_fails_with_a_reason_and_publishes_nothing(
    stack: Any, s3: Any, clips: Path, make: Callable[[Path], Path], name: str
) -> None:
    sha = media.stage_and_promote(s3, stack, make(clips / name))
    with pytest.raises(UnplayableMaster, match="cannot read the master: .+"):
        publish_first_rendition(sha)
    listed = s3.list_objects_v2(Bucket=stack.previews_bucket, Prefix=f"{sha}/")
    assert listed.get("KeyCount", 0) == 0, [o["Key"] for o in listed.get("Contents", [])]
    scratch = stack.scratch_dir or Path(tempfile.gettempdir())
    assert not list(scratch.glob(f"dailies-first-{sha[:12]}-*"))
