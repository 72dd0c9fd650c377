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


def test_auto_falls_back_to_cpu_on_this_machine_and_caches_the_answer():
    # No GPU here: the real probe fails, once; the second call is the cached answer.
    nvenc_works.cache_clear()
    assert resolve_encoder("auto", lambda: nvenc_works("ffmpeg")) == X264
    assert nvenc_works.cache_info().misses == 1
    assert resolve_encoder("auto", lambda: nvenc_works("ffmpeg")) == X264
    assert nvenc_works.cache_info().hits == 1


def test_missing_ffmpeg_means_no_nvenc():
    assert nvenc_works("/nonexistent/ffmpeg") is False
