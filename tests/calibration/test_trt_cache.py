"""TensorRT calibration caches: TensorRT's text format, read back bit for bit."""
import numpy as np
import pytest

from amma_edge.calibration.calibrators import EntropyCalibrator, TensorStatistics, int8_scale
from amma_edge.calibration.trt_cache import (
    CalibrationCache,
    cache_path,
    hex_scale,
    make_cache,
    parse_cache,
    read_cache,
    scale_hex,
    trt_version_tag,
    write_cache,
)
from amma_edge.errors import AmmaEdgeError


def test_entropy_scales_of_a_full_unit_range_match_what_tensorrt_writes():
    """TensorRT's entropy calibrator writes 3c010a14 for tensors whose values fill [0, 1] (e.g. sigmoid
    outputs): threshold (2048 + 0.5) bins of width 1/2048, over 127."""
    x = np.random.default_rng(0).uniform(0, 1, 200_000).astype(np.float32)
    x[0] = 1.0
    stats = TensorStatistics("sigmoid")
    stats.observe_max(x)
    stats.observe_histogram(x)
    assert scale_hex(int8_scale(EntropyCalibrator().amax(stats))) == "3c010a14"
    assert hex_scale("3c010a14") == int8_scale(2048.5 / 2048)


def test_version_tags_follow_tensorrt_numbering():
    assert trt_version_tag("8.6.2") == 8602
    assert trt_version_tag("8.5.2.2") == 8502
    assert trt_version_tag("10.3.0") == 100300
    with pytest.raises(AmmaEdgeError, match="MAJOR.MINOR.PATCH"):
        trt_version_tag("eight")


def test_write_then_read_gives_the_same_scales_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    scales = {f"/encoder/layer{i}/Conv_output_0": np.float32(s) for i, s in enumerate(rng.uniform(1e-6, 10, 50))}
    scales.update({"clip": np.float32(1 / 127), "tiny": np.float32(1.1754944e-38), "name: with colon": np.float32(3)})
    path = write_cache(cache_path(tmp_path, "encoder"), make_cache(scales, "entropy", "8.6.2"))
    assert path == tmp_path / "calibration" / "encoder.cache"
    text = path.read_text()
    assert text.splitlines()[0] == "TRT-8602-EntropyCalibration2"
    first = "/encoder/layer0/Conv_output_0"
    assert text.splitlines()[1] == f"{first}: {scale_hex(scales[first])}"
    back = read_cache(path)
    assert (back.version, back.algorithm) == (8602, "EntropyCalibration2")
    assert list(back.scales) == list(scales)
    assert all(back.scales[k].tobytes() == v.tobytes() for k, v in scales.items())


def test_minmax_caches_name_tensorrts_minmax_calibrator_and_can_be_retargeted():
    cache = make_cache({"x": 0.5}, "minmax", "8.5.2")
    assert cache.header == "TRT-8502-MinMaxCalibration"
    assert cache.retarget("10.3.0").header == "TRT-100300-MinMaxCalibration"
    assert cache.amax() == {"x": pytest.approx(63.5)}


def test_damaged_caches_are_user_errors(tmp_path):
    with pytest.raises(AmmaEdgeError, match="does not exist"):
        read_cache(tmp_path / "none.cache")
    with pytest.raises(AmmaEdgeError, match="TensorRT header"):
        parse_cache("hello\nx: 3c010a14\n")
    with pytest.raises(AmmaEdgeError, match="line 2"):
        parse_cache("TRT-8602-EntropyCalibration2\nx = 0.1\n")
    with pytest.raises(AmmaEdgeError, match="cannot be stored"):
        CalibrationCache(8602, "EntropyCalibration2", {"a\nb": np.float32(1)}).to_text()
