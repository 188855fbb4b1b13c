"""An exponential moving average of the weights, validated and shipped instead of the last step's weights.

Why: at batch 4 on a CPU budget every step's gradient is noisy, and the weights a run happens to stop at carry
that noise; an average over the last few thousand steps is a smoother point of the same trajectory, at the
cost of one multiply-add per weight per step. Detection toolkits (YOLOX, YOLOv5, timm) train this way.

The decay ramps up, d_t = min(decay, (1 + t) / (10 + t)) after t updates, so the first steps' random weights
fade out at once instead of weighing on the average for 1 / (1 - decay) steps. Batch-norm statistics and every
other floating-point buffer are averaged with the weights; integer buffers (batch counts) are copied.
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def ramped_decay(decay: float, updates: int) -> float:
    """The decay of update number `updates` (1-based): close to 0 at first, `decay` once 10 / (1 - decay) in."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class WeightAverage:
    """Holds `model`'s averaged copy; `update(model)` after each optimizer step folds the new weights in."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight-average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def _pairs(self, model: nn.Module) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        """(averaged, live) floating-point tensors, and (averaged, live) integer ones, in state_dict order."""
        mine, theirs = self.model.state_dict(), model.state_dict()
        if mine.keys() != theirs.keys():
            raise ValueError("the model is not the one this weight average was made from")
        floats_a, floats_b, ints_a, ints_b = [], [], [], []
        for name, a in mine.items():
            b = theirs[name].detach()
            if a.is_floating_point():
                floats_a.append(a)
                floats_b.append(b)
            else:
                ints_a.append(a)
                ints_b.append(b)
        return floats_a, floats_b, ints_a, ints_b

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = ramped_decay(self.decay, self.updates)
        floats_a, floats_b, ints_a, ints_b = self._pairs(model)
        if floats_a:
            torch._foreach_lerp_(floats_a, floats_b, 1.0 - d)  # a <- d * a + (1 - d) * b
        for a, b in zip(ints_a, ints_b):
            a.copy_(b)

    def state_dict(self) -> dict[str, Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, Tensor], updates: int) -> None:
        self.model.load_state_dict(state)
        self.updates = int(updates)


__all__ = ["WeightAverage", "ramped_decay"]
