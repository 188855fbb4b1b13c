"""Per-tensor calibrators: from the activations a tensor took on the calibration clips to the range (amax) its
symmetric INT8 quantization covers, scale = amax / 127.

Three rules, each its own class behind one contract (`Calibrator.amax(statistics)`):

  minmax      amax = max |x| over every clip: nothing is clipped, so one outlier spends the whole range;
  percentile  amax = the given percentile of |x| (99.99 by default): the rarest values are clipped;
  entropy     TensorRT's rule (EntropyCalibration2): the clipping threshold whose 128-level quantized
              distribution of |x| is closest, in KL divergence, to the measured one.

Statistics come in two passes over the data (`TensorStatistics`): the first finds max |x|, the second fills a
histogram of |x| over [0, max |x|] with fixed bins, so every clip lands in the same bins and the histogram is
exact rather than re-binned as the range grows. Min-max needs only the first pass.
"""
from __future__ import annotations

import abc
import math

import numpy as np

from amma_edge.errors import AmmaEdgeError

METHODS = ("entropy", "minmax", "percentile")
DEFAULT_METHOD = "entropy"
DEFAULT_PERCENTILE = 99.99
NUM_BINS = 2048  # TensorRT's histogram size
QUANT_LEVELS = 128  # the magnitudes 0..127 of symmetric signed INT8
INT8_MAX = 127
SMOOTHING = 1e-4  # probability given to empty bins of the quantized distribution (see entropy_bins)
MAX_CLIPPED = 0.001  # the entropy rule clips at most this share of the values
ENTROPY_STRIDE = 8  # coarse step of the entropy search, in bins


def int8_scale(amax: float) -> np.float32:
    """The INT8 scale of a range: amax / 127 in float32, the one number both the Q/DQ model and the TensorRT
    cache store. A range of zero (a tensor that is always 0, e.g. a dead ReLU) gets scale 1/127: every value
    still maps to 0, and TensorRT refuses zero scales."""
    amax = float(amax)
    if not math.isfinite(amax):
        raise ValueError(f"amax must be finite, got {amax}")
    if amax <= 0.0:
        amax = 1.0
    return np.float32(amax / INT8_MAX)


class TensorStatistics:
    """What the calibrators need to know about one tensor: its largest magnitude and a histogram of |x|.

    Feed every array to `observe_max` first (pass 1), then to `observe_histogram` (pass 2).
    """

    def __init__(self, name: str, bins: int = NUM_BINS):
        if bins < QUANT_LEVELS:
            raise ValueError(f"a histogram needs at least {QUANT_LEVELS} bins, got {bins}")
        self.name = name
        self.bins = bins
        self.amax = 0.0
        self.count = 0  # values seen in pass 1
        self.histogram: np.ndarray | None = None  # int64 (bins,) over [0, amax]

    def observe_max(self, array: np.ndarray) -> None:
        if self.histogram is not None:
            raise RuntimeError(f"{self.name}: the maximum is fixed once histograms are being collected")
        if array.size == 0:
            return
        top = float(np.max(np.abs(array)))
        if not math.isfinite(top):
            raise AmmaEdgeError(f"tensor {self.name} is NaN or infinite on a calibration clip: the fp32 model "
                                "produces non-finite activations on real data; check the export with "
                                "`amma-edge eval --model DIR` before calibrating it")
        self.amax = max(self.amax, top)
        self.count += array.size

    def observe_histogram(self, array: np.ndarray) -> None:
        if self.histogram is None:
            self.histogram = np.zeros(self.bins, dtype=np.int64)
        if array.size == 0:
            return
        if self.amax <= 0.0:
            self.histogram[0] += array.size
            return
        # Bin k holds |x| in [k·w, (k+1)·w), w = amax / bins; the maximum itself goes into the last bin.
        scaled = np.abs(np.asarray(array, dtype=np.float32).ravel())
        scaled *= np.float32(self.bins / self.amax)
        index = scaled.astype(np.int32)
        np.minimum(index, self.bins - 1, out=index)
        self.histogram += np.bincount(index, minlength=self.bins)

    @property
    def bin_width(self) -> float:
        return self.amax / self.bins


class Calibrator(abc.ABC):
    """One rule from a tensor's statistics to its amax."""

    name: str = ""
    needs_histogram: bool = True

    @abc.abstractmethod
    def amax(self, stats: TensorStatistics) -> float: ...

    def describe(self) -> str:
        return self.name


class MinMaxCalibrator(Calibrator):
    name = "minmax"
    needs_histogram = False

    def amax(self, stats: TensorStatistics) -> float:
        return stats.amax


class PercentileCalibrator(Calibrator):
    name = "percentile"

    def __init__(self, percentile: float = DEFAULT_PERCENTILE):
        if not 0.0 < percentile <= 100.0:
            raise AmmaEdgeError(f"--percentile must be in (0, 100], got {percentile}")
        self.percentile = float(percentile)

    def amax(self, stats: TensorStatistics) -> float:
        hist = _histogram(stats)
        total = int(hist.sum())
        if total == 0 or stats.amax <= 0.0:
            return stats.amax
        if self.percentile >= 100.0:
            return stats.amax
        return percentile_amax(hist, stats.amax, self.percentile)

    def describe(self) -> str:
        return f"percentile {self.percentile:g}"


class EntropyCalibrator(Calibrator):
    name = "entropy"

    def amax(self, stats: TensorStatistics) -> float:
        hist = _histogram(stats)
        if stats.amax <= 0.0 or hist.sum() == 0:
            return stats.amax
        # TensorRT's threshold is half a bin beyond the kept bins: a tensor of range [0, 1] whose bins are all
        # kept gets amax 2048.5 / 2048, scale 0x3c010a14, as in caches TensorRT writes.
        return (entropy_bins(hist) + 0.5) * stats.bin_width


def make_calibrator(method: str, percentile: float = DEFAULT_PERCENTILE) -> Calibrator:
    if method == "minmax":
        return MinMaxCalibrator()
    if method == "percentile":
        return PercentileCalibrator(percentile)
    if method == "entropy":
        return EntropyCalibrator()
    raise AmmaEdgeError(f"unknown calibration method {method!r}: choose {', '.join(METHODS)}")


def _histogram(stats: TensorStatistics) -> np.ndarray:
    if stats.histogram is None:
        raise RuntimeError(f"{stats.name}: no histogram collected (run the second pass)")
    return stats.histogram


def percentile_amax(hist: np.ndarray, amax: float, percentile: float) -> float:
    """The |x| below which `percentile` % of the values lie, interpolated linearly inside its bin."""
    counts = np.asarray(hist, dtype=np.float64)
    cumulative = np.cumsum(counts)
    target = cumulative[-1] * percentile / 100.0
    k = int(np.searchsorted(cumulative, target, side="left"))
    k = min(k, len(counts) - 1)
    below = cumulative[k - 1] if k > 0 else 0.0
    inside = (target - below) / counts[k] if counts[k] > 0 else 1.0
    width = amax / len(counts)
    return float(min(amax, (k + min(max(inside, 0.0), 1.0)) * width))


def entropy_bins(hist: np.ndarray, levels: int = QUANT_LEVELS, stride: int = ENTROPY_STRIDE) -> int:
    """How many of the histogram's bins to keep: the i in [levels, bins] minimising KL(P_i || Q_i).

    P_i is the histogram cut after i bins, with everything beyond added to its last bin (what clipping at
    i·w does to the values). Q_i is the cut histogram (without the clipped mass) merged into `levels` groups
    of adjacent bins (what quantizing with `levels` magnitudes does) and spread back evenly over the bins
    of each group where P_i is non-zero. Where P_i has mass and Q_i has none (the clipped tail in an empty
    bin) Q_i gets the mass SMOOTHING before both are normalised, so the divergence stays finite and rare
    outliers can be clipped.

    Two departures from TensorRT's description, both for robustness: a cut may clip at most
    MAX_CLIPPED of the values (for a distribution far from zero, a cut that keeps almost nothing has a
    divergence near zero, as both distributions collapse into its last bin), and the search is coarse to
    fine: every `stride`-th i first, then every i around the best (the divergence varies slowly with i).
    """
    h = np.asarray(hist, dtype=np.float64)
    n = len(h)
    if n < levels:
        raise ValueError(f"the histogram has {n} bins, fewer than the {levels} levels")
    cumulative = np.cumsum(h)
    total = cumulative[-1]
    if total <= 0:
        return n
    # The smallest cut that keeps at least 1 - MAX_CLIPPED of the values (cuts ending in empty bins are kept:
    # they clip nothing more).
    first = max(levels, int(np.searchsorted(cumulative, total * (1.0 - MAX_CLIPPED), side="left")) + 1)
    first = min(first, n)
    coarse = np.unique(np.append(np.arange(first, n + 1, max(1, stride)), n))
    best = int(coarse[np.argmin(_divergences(h, cumulative, coarse, levels))])
    fine = np.arange(max(first, best - stride + 1), min(n, best + stride - 1) + 1)
    return int(fine[np.argmin(_divergences(h, cumulative, fine, levels))])


def _divergences(h: np.ndarray, cumulative: np.ndarray, cuts: np.ndarray, levels: int,
                 block: int = 256) -> np.ndarray:
    """KL(P_i || Q_i) (see entropy_bins) for every i in `cuts`, `block` candidates at a time."""
    total = cumulative[-1]
    bins = np.arange(len(h))
    out = np.empty(len(cuts))
    for start in range(0, len(cuts), block):
        chunk = cuts[start:start + block]
        rows = np.arange(len(chunk))
        width = int(chunk.max())  # no candidate of this chunk looks further
        inside = bins[None, :width] < chunk[:, None]  # (c, width)
        cut = np.where(inside, h[None, :width], 0.0)  # the histogram cut after i bins
        p = cut.copy()
        p[rows, chunk - 1] += total - cumulative[chunk - 1]  # the clipped tail lands in the last kept bin
        positive = p > 0
        group = np.minimum((bins[None, :width] * levels) // chunk[:, None], levels - 1)  # (c, width)
        flat = (rows[:, None] * levels + group).ravel()
        size = len(chunk) * levels
        mass = np.bincount(flat, weights=cut.ravel(), minlength=size).reshape(len(chunk), levels)
        count = np.bincount(flat, weights=positive.ravel(), minlength=size).reshape(len(chunk), levels)
        per_bin = np.divide(mass, count, out=np.zeros_like(mass), where=count > 0)
        q_total = cumulative[chunk - 1]  # Q_i's mass: the cut histogram without its tail
        scale = np.divide(1.0, q_total, out=np.zeros_like(q_total), where=q_total > 0)
        qn = np.take_along_axis(per_bin * scale[:, None], group, axis=1)
        qn *= positive
        qn += SMOOTHING * (positive & (qn == 0))
        qn /= qn.sum(axis=1, keepdims=True)
        pn = p / total
        ratio = np.divide(pn, qn, out=np.ones_like(pn), where=positive)
        kl = (pn * np.log(ratio)).sum(axis=1)
        kl[q_total <= 0] = math.inf  # everything clipped: Q_i is only smoothing, not a distribution
        out[start:start + block] = kl
    return out


__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_PERCENTILE",
    "INT8_MAX",
    "METHODS",
    "NUM_BINS",
    "Calibrator",
    "EntropyCalibrator",
    "MinMaxCalibrator",
    "PercentileCalibrator",
    "TensorStatistics",
    "entropy_bins",
    "int8_scale",
    "make_calibrator",
    "percentile_amax",
]
