"""Low-Level Feature Aggregation (A* §3.1): key-frame and whole-clip features of two backbone stages.

For each of VF2 (stage 2, stride 8) and VF4 (stage 4, stride 32):

    VF (B, C, T, H, W) ─┬─ slice t = T (the key frame) ─────────────► ImageVF (B, C, H, W) ─┐
                        └─ ASTPP ─► mean over time ─────────────────► VideoVF (B, C, H, W) ─┴─ concat ─► (B, 2C, H, W)

In the real-time setting only past frames are in the window, so the key frame is the last one and its
slice is the last temporal index (the paper's footnote 2; X3D never strides time, so index T − 1 of a stage
is frame T − 1's). The image feature is sliced from the backbone's VF, not from the ASTPP output: §3.1
extracts it "concurrently" with the ASTPP, and §3.3 / §4.4 describe it as taken "directly from the VFs".

The paper then treats both levels as maps of one size without saying how stride 8 meets stride 32. Its
stated model for combining low- and high-level features is HRNet [53], which brings a high-resolution
branch down to a lower one with repeated 3×3 stride-2 convolutions; the VF2 level is brought to VF4's grid
that way (two steps for X3D), after its own ASTPP, so the pyramid still sees the fine grid. The output is
both levels side by side: (B, 2·C2 + 2·C4, H/32, W/32).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from amma_edge.models.astar.astpp import ASTPP


class KeyFrameAndClip(nn.Module):
    """One LLFA level: (B, C, T, H, W) → [key-frame slice, time-averaged ASTPP] (B, 2C, H, W)."""

    def __init__(self, channels: int, rates: Sequence[int]):
        super().__init__()
        self.astpp = ASTPP(channels, rates)
        self.out_channels = 2 * channels

    def forward(self, vf: Tensor) -> Tensor:
        image = vf[:, :, -1]
        video = self.astpp(vf).mean(dim=2)
        return torch.cat([image, video], dim=1)


def strided_downsample(channels: int, factor: int) -> nn.Sequential:
    """log2(factor) 3×3 stride-2 convolutions (BN, ReLU), HRNet's way down to a coarser branch."""
    steps = int(math.log2(factor))
    if 2**steps != factor:
        raise ValueError(f"the stride ratio between LLFA levels must be a power of 2, got {factor}")
    layers: list[nn.Module] = []
    for _ in range(steps):
        layers += [nn.Conv2d(channels, channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(channels),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class LLFA(nn.Module):
    """(VF2, VF4) → one map on VF4's grid with 2·C2 + 2·C4 channels: [low level ↓, high level]."""

    def __init__(self, low_channels: int, high_channels: int, rates: Sequence[int], *, stride_ratio: int):
        super().__init__()
        self.low = KeyFrameAndClip(low_channels, rates)
        self.high = KeyFrameAndClip(high_channels, rates)
        self.low_to_high_grid = strided_downsample(self.low.out_channels, stride_ratio)
        self.out_channels = self.low.out_channels + self.high.out_channels

    def forward(self, vf2: Tensor, vf4: Tensor) -> Tensor:
        return torch.cat([self.low_to_high_grid(self.low(vf2)), self.high(vf4)], dim=1)
