"""What the trainer tells a user about the size of the gradients.

A loss that blows up mid-run is usually one step's gradient hundreds or thousands of times the size of its
neighbours': Adam folds its square into the second-moment estimate, and the parameters it hit then take
tiny steps for the thousands of steps that estimate needs to decay. Our stride-4 synthetic run with seed 1
had one step of norm 34,161 among steps of 10-20, and ended at half the frame-mAP of the same recipe clipped
(benches/results/training.json). Nothing in the loss curve says why; these two pieces do: each log row's
mean and largest norm, and a message naming the step of a spike and a clip that would have caught it.
"""
from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field


def gradient_norm_summary(norms: Sequence[float], clip: float) -> dict[str, float]:
    """What the log row says of the gradients since the last row: the mean and largest total norm (before any
    clip), and with `grad_clip` set, the fraction of steps it clipped. A steady mean with a few far larger maxima
    is the spike that a loss blow-up follows; a clip that catches most steps is lowering the learning rate."""
    finite = [n for n in norms if math.isfinite(n)]
    if not norms:
        return {}
    summary = {"grad_norm": sum(finite) / len(finite) if finite else math.inf,
               "grad_norm_max": max(norms)}
    if clip:
        summary["clipped_fraction"] = sum(n > clip for n in norms) / len(norms)
    return summary


@dataclass(frozen=True)
class GradientSpike:
    """One step whose total gradient norm was `ratio` times the median of the steps before it."""

    step: int
    norm: float
    median: float
    clipped: bool  # grad_clip was set and below the norm: the update was cut to the clip
    suggested_clip: float  # a few times the typical norm, rounded: above nearly every step, far below the spike

    @property
    def ratio(self) -> float:
        return self.norm / self.median

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"step": self.step, "grad_norm": self.norm, "median_recent": self.median, "ratio": self.ratio,
                "clipped": self.clipped, "suggested_grad_clip": self.suggested_clip}

    def describe(self) -> str:
        what = (f"step {self.step}: gradient norm {self.norm:.4g}, {self.ratio:.0f}x the median of the steps "
                f"before it ({self.median:.3g})")
        if self.clipped:
            return what + "; clipped"
        return (what + "; Adam may stall the parameters it hit for the rest of the run. If the loss jumps, "
                f"rerun with --set grad_clip={self.suggested_clip:g}")


@dataclass
class SpikeWatch:
    """Flags a step whose gradient norm is `factor` times the median of the last `window` steps.

    The median, not the mean, so one spike does not hide the next, and the first `min_history` steps are
    only recorded: the norms fall by an order of magnitude over a warm-up, and the window follows them down.
    A factor of 100 stays quiet through our runs' warm-ups (their largest step was 13x its window's mean)
    and catches the 2,659x spike. Non-finite norms are the float16 loss scaler's overflows, which it skips
    itself; they are neither flagged nor recorded. The history is not checkpointed: a resumed run records
    `min_history` steps again before it judges.
    """

    factor: float = 100.0
    window: int = 200
    min_history: int = 50
    _recent: deque = field(init=False, repr=False)  # the last `window` finite norms, made in __post_init__

    def __post_init__(self) -> None:
        if self.factor <= 1 or self.window < 1 or not 1 <= self.min_history <= self.window:
            raise ValueError(f"SpikeWatch needs factor > 1 and 1 <= min_history <= window, got factor "
                             f"{self.factor}, window {self.window}, min_history {self.min_history}")
        self._recent = deque(maxlen=self.window)

    def check(self, step: int, norm: float, clip: float = 0.0) -> GradientSpike | None:
        """Record this step's norm; a `GradientSpike` when it stands out from the steps before it."""
        if not math.isfinite(norm):
            return None
        spike = None
        if len(self._recent) >= self.min_history:
            median = statistics.median(self._recent)
            if median > 0 and norm > self.factor * median:
                spike = GradientSpike(step=step, norm=norm, median=median, clipped=bool(clip) and norm > clip,
                                      suggested_clip=round_to_one_digit(4 * median))
        self._recent.append(norm)
        return spike


def round_to_one_digit(x: float) -> float:
    """52.3 -> 50, 0.0347 -> 0.03: a clip is a rough threshold, and a round one reads as chosen, not fitted."""
    if x <= 0 or not math.isfinite(x):
        raise ValueError(f"expected a positive finite number, got {x}")
    return float(f"{x:.1g}")
