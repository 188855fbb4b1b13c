"""Layers the backbones share.

`StridedDepthwiseConv2d` exists for one measured reason: under CPU bfloat16 autocast (`amma-edge train
--amp` on AVX512-BF16 / AMX cores), oneDNN's backward pass of a stride-2 depthwise 3×3 convolution takes
about 25 times as long as the stride-1 one on a map of the same output size, and in AMMA-S the ten stride-2
depthwise convolutions cost a fifth of a whole training step. In float32 the same backward is fast. So these
convolutions alone run in float32 under CPU bfloat16 autocast; everything else stays in bfloat16
(benches/results/train_step.json measures the step both ways). The parameters and their names are those of
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


class DepthwiseConv3d(nn.Conv3d):
    """A depthwise 3-D convolution (temporal stride 1) that a CPU computes as one depthwise 2-D one per tap.

    PyTorch has no fast CPU kernel for depthwise 3-D convolutions: it falls back to a generic one whose
    backward pass dominated an A* (X3D) training step. Summed over the temporal taps k, the same convolution is
    kt depthwise 2-D convolutions of the frames shifted by k, with the frames folded into the batch, and
    those oneDNN runs fast forward and backward (benches/results/x3d_depthwise.json measures both). The
    result is the same up to float rounding. On other devices, and while exporting to ONNX (where TensorRT
    wants the one 3-D convolution), it is the ordinary `nn.Conv3d`; the parameters are `nn.Conv3d`'s, so
    pytorchvideo checkpoints load unchanged.
    """

    # Benchmarks switch this off to time the generic kernel it replaces.
    as_2d_on_cpu: bool = True

    def __init__(self, channels: int, kernel_size: tuple[int, int, int], stride: tuple[int, int, int],
                 padding: tuple[int, int, int]):
        if stride[0] != 1:
            raise ValueError(f"DepthwiseConv3d keeps every frame (temporal stride 1), got stride {stride}")
        if 2 * padding[0] != kernel_size[0] - 1:
            raise ValueError(f"DepthwiseConv3d pads time to keep every frame: kernel {kernel_size}, padding {padding}")
        super().__init__(channels, channels, kernel_size, stride=stride, padding=padding, groups=channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if not self.as_2d_on_cpu or x.device.type != "cpu" or _exporting():
            return super().forward(x)
        n, c, t, h, w = x.shape
        taps = self.kernel_size[0]
        frames = x.transpose(1, 2)  # (N, T, C, H, W), a view
        if self.padding[0]:
            frames = nn.functional.pad(frames, (0, 0, 0, 0, 0, 0, self.padding[0], self.padding[0]))
        out: Tensor | None = None
        for k in range(taps):
            shifted = frames[:, k:k + t].reshape(n * t, c, h, w)
            y = nn.functional.conv2d(shifted, self.weight[:, :, k], stride=self.stride[1:], padding=self.padding[1:],
                                     groups=c)
            out = y if out is None else out + y
        assert out is not None
        return out.reshape(n, t, c, out.shape[-2], out.shape[-1]).transpose(1, 2)


def _exporting() -> bool:
    return bool(torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.compiler.is_compiling())
