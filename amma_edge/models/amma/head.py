"""The tubelet head over K clip features (AMMA §3.3): center, trajectory and box branches.

    features (B, K, c, h, w) ── stack clips ──► (B, K·c, h, w) ─┬─ center:     (3×3 → ReLU)×d → 1×1 → sigmoid  (B, C, h, w)
                                                                 └─ trajectory: 3×3 → ReLU → 1×1           (B, 2K, h, w)
    each clip (B·K, c, h, w) ─── box: 3×3 → ReLU → 1×1 ──────────────────────────────────────────────────── (B, 2K, h, w)

d = center_depth, 1 as published.
center: per-class probability that an action's center at the key frame (last frame of clip K) is here.
trajectory: (dx, dy) for each clip k = 1..K: the action center at the last frame of clip k minus the center
at the key frame, in output-grid cells. box: (w, h) at the last frame of each clip, in grid cells.
Channels are clip-major: (dx_1, dy_1, dx_2, dy_2, …) and (w_1, h_1, w_2, h_2, …), oldest clip first.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from amma_edge.errors import InputShapeError

# Center bias so the initial heatmap is sigmoid(−2.19) ≈ 0.1, CenterNet's prior for a stable focal loss start.
CENTER_PRIOR_BIAS = -2.19


def _branch(in_channels: int, hidden: int, out_channels: int, depth: int = 1) -> nn.Sequential:
    """`depth` 3×3 convolutions, each followed by a ReLU, then the 1×1 to the outputs."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Conv2d(in_channels if i == 0 else hidden, hidden, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.Conv2d(hidden, out_channels, 1, bias=True))


class TubeletHead(nn.Module):
    def __init__(self, *, in_channels: int, K: int, num_classes: int, head_conv: int = 256, box_head_conv: int = 64,
                 center_depth: int = 1):
        super().__init__()
        self.K = K
        self.in_channels = in_channels
        # The published center branch sees 3×3 output cells of the K stacked features; `center_depth` > 1 widens
        # that to (2·depth + 1)² cells, more context for telling actions apart, at a small cost beside K encodes.
        self.center = _branch(K * in_channels, head_conv, num_classes, center_depth)
        self.trajectory = _branch(K * in_channels, head_conv, 2 * K)
        self.box = _branch(in_channels, box_head_conv, 2)
        for branch in (self.center, self.trajectory, self.box):
            for m in branch:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.center[-1].weight, std=0.001)
        nn.init.constant_(self.center[-1].bias, CENTER_PRIOR_BIAS)

    def forward(self, features: Tensor) -> dict[str, Tensor]:
        """K clip features, oldest first, (B, K, c, h, w) → center, trajectory and box maps."""
        if features.dim() != 5 or features.shape[1] != self.K or features.shape[2] != self.in_channels:
            raise InputShapeError(
                f"the AMMA head expects features of shape (batch, K={self.K}, {self.in_channels}, H/R, W/R) at the output stride R; "
                f"got {tuple(features.shape)}"
            )
        b, k, c, h, w = features.shape
        stacked = features.reshape(b, k * c, h, w)
        box = self.box(features.reshape(b * k, c, h, w)).reshape(b, 2 * k, h, w)
        return {
            "center": torch.sigmoid(self.center(stacked)),
            "trajectory": self.trajectory(stacked),
            "box": box,
        }
