"""Image-Video Feature Fusion (A* §3.3): the LLFA map reduced to C_head channels, then self-attention.

    LLFA (B, C_in, h, w) ─► 1×1 conv, BN, ReLU ─► x (B, C_head, h, w)
    x ─► θ, φ, g: 1×1 convs to C_head/2 ─► softmax(θᵀφ / √(C_head/2)) over the h·w positions ─► · g
      ─► 1×1 conv back to C_head, BN ─► + x ─► (B, C_head, h, w)

The paper's block is "a typical self-attention block [54]", i.e. a non-local block, and its output has
C_head < C_in channels "to reduce computational cost"; reducing before attending is the cheaper order of
the two and lets the attention mix image and video channels that the 1×1 convolution has already combined.
The dot products are scaled by 1/√d as in Transformers, a common stabilising form of [54]'s embedded
Gaussian. φ has no bias: a bias there shifts every score of a row equally, which softmax ignores, so it
would never learn.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class NonLocal2d(nn.Module):
    def __init__(self, channels: int, inner_channels: int):
        super().__init__()
        self.theta = nn.Conv2d(channels, inner_channels, 1)
        self.phi = nn.Conv2d(channels, inner_channels, 1, bias=False)
        self.g = nn.Conv2d(channels, inner_channels, 1)
        self.out = nn.Conv2d(inner_channels, channels, 1, bias=False)
        self.out_norm = nn.BatchNorm2d(channels)
        self.scale = 1.0 / math.sqrt(inner_channels)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        query = self.theta(x).flatten(2).transpose(1, 2)  # (B, N, d)
        key = self.phi(x).flatten(2)  # (B, d, N)
        value = self.g(x).flatten(2).transpose(1, 2)  # (B, N, d)
        attention = torch.softmax(torch.matmul(query, key) * self.scale, dim=-1)  # (B, N, N)
        y = torch.matmul(attention, value).transpose(1, 2).reshape(b, -1, h, w)
        return x + self.out_norm(self.out(y))


class IVFF(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.reduce = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.attention = NonLocal2d(out_channels, max(1, out_channels // 2))

    def forward(self, x: Tensor) -> Tensor:
        return self.attention(self.reduce(x))
