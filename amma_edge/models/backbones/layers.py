"""Layers the backbones share.

`StridedDepthwiseConv2d` exists for one measured reason: under CPU bfloat16 autocast (`amma-edge train
--amp` on AVX512-BF16 / AMX cores), oneDNN's backward pass of a stride-2 depthwise 3×3 convolution is slow,
while in float32 it is fast. Running AMMA-S's ten stride-2 depthwise convolutions in float32 under CPU
bfloat16 autocast, everything else still in bfloat16, makes a training step of 8 clips 1.28x faster
(benches/results/train_step.json times the step both ways). The parameters and their names are those of
`nn.Conv2d`, so checkpoints and torchvision weights load unchanged, and outside CPU bfloat16 autocast (float32
training, CUDA, inference, ONNX export) it is an ordinary convolution.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class StridedDepthwiseConv2d(nn.Conv2d):
    """A depthwise convolution with stride > 1 that runs in float32 under CPU bfloat16 autocast."""

    # Benchmarks switch this off to time the all-bfloat16 step it replaces.
    float32_under_cpu_bfloat16: bool = True

    def __init__(self, channels: int, kernel_size: int, stride: int, padding: int):
        if stride < 2:
            raise ValueError(f"StridedDepthwiseConv2d is for strides of 2 or more, got {stride}; use nn.Conv2d")
        super().__init__(channels, channels, kernel_size, stride=stride, padding=padding, groups=channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.float32_under_cpu_bfloat16 and x.device.type == "cpu" and _cpu_bfloat16_autocast():
            with torch.autocast("cpu", enabled=False):
                return super().forward(x.float())
        return super().forward(x)


def _cpu_bfloat16_autocast() -> bool:
    return torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


def depthwise_conv(channels: int, kernel_size: int, stride: int) -> nn.Conv2d:
    """A bias-free depthwise convolution with same-size padding; a `StridedDepthwiseConv2d` when it strides."""
    padding = (kernel_size - 1) // 2
    if stride > 1:
        return StridedDepthwiseConv2d(channels, kernel_size, stride, padding)
    return nn.Conv2d(channels, channels, kernel_size, padding=padding, groups=channels, bias=False)
