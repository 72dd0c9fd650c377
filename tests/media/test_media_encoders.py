from pathlib import Path

import pytest

from dailies.errors import InvalidRequest
from dailies.media.commands.common import PLAYLIST_NAME
from dailies.media.encoders import (
    NVENC,
    X264,
    EncoderUnavailable,
    nvenc_probe_args,
    nvenc_works,
    resolve_encoder,
)
from dailies.media.ladder import LadderPlan
from dailies.media.runner import run_ffmpeg
from tests import preview_fixtures as media
from tests.media.nvenc_ladder import MASTERS, make_masters, nvenc_ladder_command


@pytest.mark.parametrize(
    ("requested", "gpu", "encoder"),
    [
        ("auto", True, NVENC),
        ("auto", False, X264),
        ("AUTO ", False, X264),
        ("cpu", True, X264),
        ("cpu", False, X264),
        ("nvenc", True, NVENC),
    ],
)
def test_encoder_resolution(requested, gpu, encoder):
    assert resolve_encoder(requested, lambda: gpu) == encoder


def test_cpu_never_probes_the_gpu():
    def explode() -> bool:
        raise AssertionError("probed")

    assert resolve_encoder("cpu", explode) == X264


def test_nvenc_requested_without_a_gpu_says_so():
    with pytest.raises(EncoderUnavailable, match="GPU work pool"):
        resolve_encoder("nvenc", lambda: False)


def test_unknown_encoder_is_refused():
    with pytest.raises(InvalidRequest, match="auto, nvenc, cpu"):
        resolve_encoder("qsv", lambda: True)


def test_probe_is_a_tiny_real_nvenc_encode():
    args = nvenc_probe_args("ffmpeg")
    assert args[args.index("-c:v") + 1] == "h264_nvenc"
    assert args[args.index("-f") + 1] == "lavfi" and args[-3:] == ["-f", "null", "-"]


def _nvenc_here() -> bool:
    nvenc_works.cache_clear()
    return nvenc_works("ffmpeg")


NVENC_HERE = _nvenc_here()


def test_auto_follows_what_this_machine_can_do_and_caches_the_probe():
    """Both ways: a GPU host resolves auto to NVENC, any other to libx264; one probe each."""
    nvenc_works.cache_clear()
    expected = NVENC if NVENC_HERE else X264
    assert resolve_encoder("auto", lambda: nvenc_works("ffmpeg")) == expected
    assert nvenc_works.cache_info().misses == 1
    assert resolve_encoder("auto", lambda: nvenc_works("ffmpeg")) == expected
    assert nvenc_works.cache_info().hits == 1


@pytest.mark.skipif(NVENC_HERE, reason="this host has a working NVENC")
def test_without_nvenc_a_real_nvenc_request_says_so():
    with pytest.raises(EncoderUnavailable, match="GPU work pool"):
        resolve_encoder("nvenc", lambda: nvenc_works("ffmpeg"))


def run_ladder_and_check(args: list[str], plan: LadderPlan, out: Path, master_s: float) -> None:
    """Run a ladder command as encode_ladder does (rendition folders first, our runner) and
    check what a player gets: every rendition complete, decoding cleanly at its rung's size,
    as long as the master, keyframes at the same instants in every rendition."""
    names = [r.name for r in plan.rungs] + (["audio"] if plan.has_audio else [])
    for name in names:
        (out / name).mkdir(parents=True)
    run_ffmpeg(args, "ffmpeg (HLS ladder)", plan.duration_s, timeout_s=300)
    keyframes = set()
    for name in names:
        playlist = out / name / PLAYLIST_NAME
        assert playlist.read_text().rstrip().endswith("#EXT-X-ENDLIST"), name
        assert media.decode_errors(str(playlist)) == (0, ""), name
        probed = media.ffprobe_json(str(playlist), "-show_streams", "-show_format")
        assert float(probed["format"]["duration"]) == pytest.approx(master_s, abs=0.1), name
        if name == "audio":
            continue
        (video,) = probed["streams"]
        rung = next(r for r in plan.rungs if r.name == name)
        assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == (
            "h264",
            "yuv420p",
            rung.width,
            rung.height,
        )
        keyframes.add(tuple(media.keyframe_times(str(playlist))))
    assert len(keyframes) == 1, keyframes


@pytest.mark.skipif(
    not NVENC_HERE,
    reason="no working NVENC on this host (the probe's tiny h264_nvenc encode failed): "
    "run on a GPU worker to exercise it",
)
@pytest.mark.parametrize("name", MASTERS)
def test_nvenc_encodes_with_the_projects_ladder_command(name: str, tmp_path: Path) -> None:
    """The argv a GPU worker runs (build_ladder_args for h264_nvenc), not a hand-written
    line, for a master on each path: all in CUDA, deinterlaced in CUDA, CPU-filtered."""
    (master,) = make_masters(tmp_path, only=name).values()
    out = tmp_path / "hls"
    args, probe, plan = nvenc_ladder_command(master, out)
    assert args[args.index("-c:v") + 1] == NVENC
    run_ladder_and_check(args, plan, out, probe.duration_s)
    # libx264 signs every stream with an "x264 - core" SEI; NVENC does not.
    assert not any(b"x264 - core" in p.read_bytes() for p in out.glob("*/*.m4s"))


def test_missing_ffmpeg_means_no_nvenc():
    assert nvenc_works("/nonexistent/ffmpeg") is False
