import pytest

from dailies.errors import InvalidRequest
from dailies.media.encoders import (
    NVENC,
    X264,
    EncoderUnavailable,
    nvenc_probe_args,
    nvenc_works,
    resolve_encoder,
)


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


@pytest.mark.skipif(
    not NVENC_HERE,
    reason="no working NVENC on this host (the probe's tiny h264_nvenc encode failed): "
    "run on a GPU worker to exercise it",
)
def test_nvenc_encodes_a_real_clip(tmp_path):
    import subprocess

    out = tmp_path / "nvenc.mp4"
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=1280x720:d=1",
         "-c:v", "h264_nvenc", "-y", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0


def test_missing_ffmpeg_means_no_nvenc():
    assert nvenc_works("/nonexistent/ffmpeg") is False
