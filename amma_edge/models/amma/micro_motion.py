"""Accumulated micro-motion (AMMA §3.2): a cheap motion map computed on the fly from the t frames of a clip.

Each frame is max-pooled by 2 and (for `conv_diff`) passed through one shallow 5×5 convolution with 8 output
channels. For every earlier frame i the difference f_t − f_i is reduced to one channel by its per-pixel L2
norm over channels, and the t − 1 maps are stacked and bilinearly upsampled back to the frame size. With
t = 4 the result has three channels, like an RGB frame, so the motion stream can reuse the appearance
stream's architecture.

`rgb_diff` (the paper's MM_Diff) skips the convolution and accumulates raw frame differences: no learned
layer, so the runtime can compute it in C before the encoder runs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Added under the square root so the L2 norm has a finite gradient where two frames are identical.
# The runtime's C kernel and its NumPy twin use the same constant.
MICRO_MOTION_EPS = 1e-6


def accumulate_differences(features: torch.Tensor) -> torch.Tensor:
    """(B, t, C, h, w) per-frame features → (B, t−1, h, w) L2 norms of f_t − f_i for i = 1..t−1."""
    diff = features[:, -1:] - features[:, :-1]
    return torch.sqrt((diff * diff).sum(dim=2) + MICRO_MOTION_EPS)


class MicroMotion(nn.Module):
    """Clip (B, t, 3, H, W) → accumulated micro-motion (B, t−1, H, W)."""

    def __init__(self, variant: str = "conv_diff", channels: int = 8):
        super().__init__()
        if variant not in ("conv_diff", "rgb_diff"):
            raise ValueError(f"micro-motion variant must be 'conv_diff' or 'rgb_diff', got {variant!r}")
        self.variant = variant
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv = nn.Conv2d(3, channels, kernel_size=5, stride=1, padding=2) if variant == "conv_diff" else None
        if self.conv is not None:
            nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(self.conv.bias)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = clip.shape
        frames = self.pool(clip.reshape(b * t, c, h, w))
        if self.conv is not None:
            frames = self.conv(frames)
        frames = frames.reshape(b, t, frames.shape[1], frames.shape[2], frames.shape[3])
        motion = accumulate_differences(frames)
        return F.interpolate(motion, size=(h, w), mode="bilinear", align_corners=False)
