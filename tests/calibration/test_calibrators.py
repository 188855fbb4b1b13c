"""The calibrators on hand-made distributions whose right answer is known."""
import numpy as np
import pytest

from amma_edge.calibration.calibrators import (
    NUM_BINS,
    EntropyCalibrator,
    MinMaxCalibrator,
    PercentileCalibrator,
    TensorStatistics,
    int8_scale,
    make_calibrator,
)
from amma_edge.errors import AmmaEdgeError


def amax(calibrator, *arrays):
    stats = TensorStatistics("t")
    for a in arrays:
        stats.observe_max(a)
    if calibrator.needs_histogram:
        for a in arrays:
            stats.observe_histogram(a)
    return calibrator.amax(stats), stats


def test_minmax_is_the_exact_largest_magnitude_over_every_array():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 5, 7)).astype(np.float32) for _ in range(4)]
    arrays[2][1, 2, 3] = -7.123456
    value, stats = amax(MinMaxCalibrator(), *arrays)
    assert value == float(np.float32(7.123456)) == max(float(np.abs(a).max()) for a in arrays)
    assert stats.histogram is None  # min-max makes one pass only


def test_percentile_of_a_uniform_distribution():
    x = np.random.default_rng(1).uniform(-1, 1, 400_000).astype(np.float32)
    value, stats = amax(PercentileCalibrator(99.0), x)
    assert value == pytest.approx(0.99, abs=2 / NUM_BINS)
    assert stats.histogram.sum() == x.size
    assert amax(PercentileCalibrator(100.0), x)[0] == stats.amax


def test_entropy_keeps_the_whole_range_of_a_uniform_distribution():
    x = np.random.default_rng(2).uniform(-3, 3, 400_000).astype(np.float32)
    value, stats = amax(EntropyCalibrator(), x)
    assert value >= 0.99 * stats.amax


def test_entropy_clips_rare_outliers_of_a_heavy_tailed_distribution():
    x = np.random.default_rng(3).normal(size=400_000).astype(np.float32)
    x[:20] = 80.0  # 0.005 % of the values, far out
    value, stats = amax(EntropyCalibrator(), x)
    assert stats.amax == 80.0
    assert 4.0 <= value <= 0.2 * stats.amax  # the bulk (|x| < ~4.5) kept, the outliers clipped


def test_entropy_clips_the_tail_of_a_laplace_distribution():
    x = np.random.default_rng(4).laplace(size=400_000).astype(np.float32)
    value, stats = amax(EntropyCalibrator(), x)
    assert np.log(100) < value < stats.amax  # beyond the 99th percentile, below the maximum


def test_entropy_does_not_clip_away_a_distribution_far_from_zero():
    """All mass in a narrow band at 2: a cut below it would collapse both distributions into one bin and look
    perfect to the divergence; it must not be chosen."""
    x = np.random.default_rng(5).normal(2.0, 0.02, 100_000).astype(np.float32)
    value, stats = amax(EntropyCalibrator(), x)
    assert value >= 0.99 * float(np.quantile(np.abs(x), 0.99))


def test_a_constant_zero_tensor_gets_a_usable_scale():
    value, _ = amax(EntropyCalibrator(), np.zeros(1000, np.float32))
    assert value == 0.0
    assert int8_scale(value) == np.float32(1 / 127) and int8_scale(value) > 0
    assert int8_scale(2.54) == np.float32(2.54 / 127) and int8_scale(2.54).dtype == np.float32


def test_non_finite_activations_are_a_user_error():
    stats = TensorStatistics("bad")
    with pytest.raises(AmmaEdgeError, match="bad.*NaN or infinite"):
        stats.observe_max(np.array([1.0, np.nan], np.float32))


def test_make_calibrator_names_the_choices():
    assert make_calibrator("percentile", 99.9).percentile == 99.9
    with pytest.raises(AmmaEdgeError, match="entropy, minmax, percentile"):
        make_calibrator("kl")
