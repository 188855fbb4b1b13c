"""Atrous Spatio-Temporal Pyramid Pooling (A* §3.2): DeepLab's ASPP made 3D, without the pooling branch.

    VF (B, C, T, H, W) ─┬─ 3×3×3 conv, dilation r1 ─► C/4 ─┐
                        ├─ 3×3×3 conv, dilation r2 ─► C/4 ─┤
                        ├─        …                        ├─ concat ─► 1×1×1 conv ─► (B, C, T, H, W)
                        └─ 3×3×3 conv, dilation rn ─► C/4 ─┘

Each pyramid level dilates time and space by the same rate (Eq. 2 with r_a = r_b = r_c), padded by the rate
so every level keeps the input's size. The paper names no normalisation; each convolution is followed by
batch norm and ReLU as in ASPP [4], which A* extends. There is no global-average-pooling branch: the
paper's ablation (Table 6) finds it hurts.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def conv_bn_relu_3d(in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel_size // 2)
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


class ASTPP(nn.Module):
    def __init__(self, channels: int, rates: Sequence[int]):
        super().__init__()
        if channels % 4:
            raise ValueError(f"ASTPP cuts each level to a quarter of the channels; {channels} is not a multiple of 4")
        level = channels // 4
        self.levels = nn.ModuleList(conv_bn_relu_3d(channels, level, 3, dilation=int(r)) for r in rates)
        self.project = conv_bn_relu_3d(level * len(rates), channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(torch.cat([level(x) for level in self.levels], dim=1))
