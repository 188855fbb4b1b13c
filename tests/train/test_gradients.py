"""The gradient-norm summaries of the training log and the spike watch that names a blow-up's step."""
import math

import pytest

from amma_edge.train.gradients import SpikeWatch, gradient_norm_summary, round_to_one_digit


def test_gradient_norm_summary_is_mean_max_and_clipped_share():
    assert gradient_norm_summary([], 0.0) == {}
    assert gradient_norm_summary([1.0, 3.0], 0.0) == {"grad_norm": 2.0, "grad_norm_max": 3.0}
    summary = gradient_norm_summary([1.0, 3.0, 5.0, 7.0], 4.0)
    assert summary == {"grad_norm": 4.0, "grad_norm_max": 7.0, "clipped_fraction": 0.5}
    # a non-finite norm (a float16 overflow the loss scaler skips) shows in the max, not in the mean
    summary = gradient_norm_summary([2.0, float("inf")], 0.0)
    assert summary["grad_norm"] == 2.0 and summary["grad_norm_max"] == float("inf")


def feed(watch, norms, clip=0.0):
    return [s for step, n in enumerate(norms, 1) if (s := watch.check(step, n, clip)) is not None]


def test_a_warm_up_that_falls_tenfold_is_not_a_spike_but_one_step_of_thousands_is():
    # the seed-1 run's shape: norms from ~700 down to ~13 over a warm-up, one step of 34,161, then ~13 again
    warmup = [700 * (13 / 700) ** (i / 400) for i in range(400)]
    steady = [13.0 + (i % 7) for i in range(1300)]
    watch = SpikeWatch()
    spikes = feed(watch, warmup + steady + [34160.6] + steady)
    assert len(spikes) == 1
    spike = spikes[0]
    assert spike.step == 1701 and spike.norm == 34160.6 and 13 <= spike.median <= 19
    assert spike.ratio == pytest.approx(34160.6 / spike.median)
    assert spike.suggested_clip == round_to_one_digit(4 * spike.median) and 50 <= spike.suggested_clip <= 80
    assert "--set grad_clip=" in spike.describe()


def test_nothing_is_judged_before_min_history_steps_and_nonfinite_norms_are_ignored():
    watch = SpikeWatch(min_history=5)
    assert feed(watch, [1.0, 1e6, 1.0, 1.0]) == []  # four steps: too few to know what is typical
    assert feed(watch, [float("inf"), float("nan")]) == []  # a loss-scaler overflow, skipped by the scaler
    assert len(watch._recent) == 4
    assert [s.norm for s in feed(watch, [1.0, 500.0])] == [500.0]


def test_a_spike_the_clip_already_cut_says_so_instead_of_suggesting_one():
    watch = SpikeWatch(min_history=3)
    spike = feed(watch, [2.0, 2.0, 2.0, 1000.0], clip=50.0)[0]
    assert spike.clipped and spike.describe().endswith("clipped") and "--set" not in spike.describe()
    # a clip above the spike did not cut it: the message still suggests one
    spike = feed(SpikeWatch(min_history=3), [2.0, 2.0, 2.0, 1000.0], clip=5000.0)[0]
    assert not spike.clipped and "--set grad_clip=8" in spike.describe()


def test_the_median_follows_the_last_window_of_steps():
    watch = SpikeWatch(factor=10, window=10, min_history=10)
    # 10 steps at 100, then 10 at 1: the window now holds only 1s, so 50 is a spike where it was not before
    assert feed(watch, [100.0] * 10 + [1.0] * 10) == []
    assert [s.median for s in feed(watch, [50.0])] == [1.0]


def test_round_to_one_digit_and_bad_settings():
    assert round_to_one_digit(52.3) == 50 and round_to_one_digit(0.0347) == 0.03 and round_to_one_digit(96) == 100
    with pytest.raises(ValueError, match="positive finite"):
        round_to_one_digit(math.inf)
    with pytest.raises(ValueError, match="min_history"):
        SpikeWatch(min_history=0)
    with pytest.raises(ValueError, match="factor"):
        SpikeWatch(factor=1)
