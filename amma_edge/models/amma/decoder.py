"""From the backbone's stride-32 feature to the clip feature at stride R (8, as published) with D channels (AMMA §3.2).

AMMA keeps one of CenterNet's three up-sampling layers and finishes with a bilinear ×2. The authors' layer is
a deformable 3×3 convolution followed by a 4×4 transposed convolution; amma-edge uses a plain 3×3
convolution in its place so that every model exports to ONNX and builds in TensorRT without plugins. Mobile
backbones first reduce their 1024 / 1280 output channels to 512 with a 1×1 convolution, as published.
"""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


def bilinear_upsampling_init(weight: Tensor) -> None:
    """Start a transposed convolution as bilinear interpolation, which trains faster than a random start."""
    k = weight.shape[-1]
    f = math.ceil(k / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    for i in range(k):
        for j in range(k):
            weight.data[:, :, i, j] = (1 - abs(i / f - c)) * (1 - abs(j / f - c))


class ChannelReducer(nn.Sequential):
    """1×1 convolution + batch norm: mobile backbones' 1024 / 1280 channels down to the decoder's 512."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))


class Decoder(nn.Module):
    """(B, C, H/32, W/32) → (B, D, H/8, W/8)."""

    def __init__(self, in_channels: int, out_channels: int = 256):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv_bn = nn.BatchNorm2d(out_channels)
        self.up = nn.ConvTranspose2d(out_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.up_bn = nn.BatchNorm2d(out_channels)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        bilinear_upsampling_init(self.up.weight)

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(self.to_stride_16(x), scale_factor=2.0, mode="bilinear", align_corners=False)

    def to_stride_16(self, x: Tensor) -> Tensor:
        """The 3×3 convolution and the transposed one: stride 32 → 16, where the skip decoder adds its first skip."""
        x = F.relu(self.conv_bn(self.conv(x)))
        return F.relu(self.up_bn(self.up(x)))


class SkipDecoder(Decoder):
    """The published decoder plus the backbone's finer features added on the way up.

    The published decoder rebuilds the stride-8 map from the stride-32 one alone. At 288×288 that map is 9×9
    cells, and with ImageNet weights it is enough. From scratch on small inputs it is not: at 128×160 it is
    4×5 cells, a person is 2 cells wide at stride 8, and the box and trajectory branches must recover
    positions to a fraction of a cell from a map that never held them. Adding the finer backbone stages
    through 1×1 projections, as FPN and CenterNet's DLA-34 up-sampling do, hands them those positions. For
    AMMA-S at 128×160 it costs 8.5 % more encoder multiply-adds (5.2 % of a full K-clip pass), and the clip
    feature keeps its shape, so the head, the feature cache and the runtime are unchanged.

    With `out_stride=4` it goes one bilinear ×2 further and adds the stride-4 stage too (CenterNet's output
    grid): a person is then 4 cells wide at 128×160, at the price of a head that runs on 4× the cells.
    """

    def __init__(self, in_channels: int, out_channels: int, skips: dict[int, int], out_stride: int = 8):
        """`skips` maps a stride (16, 8 and, for `out_stride=4`, 4) to the channel count of the backbone
        feature at that stride."""
        super().__init__(in_channels, out_channels)
        allowed = {s for s in (16, 8, 4) if s >= out_stride}
        if out_stride not in (8, 4):
            raise ValueError(f"the skip decoder ends at stride 8 or 4; got {out_stride}")
        unknown = set(skips) - allowed
        if unknown or not skips:
            raise ValueError(f"skip connections to an output at stride {out_stride} come from strides "
                             f"{sorted(allowed, reverse=True)}; got strides {sorted(skips)}")
        self.out_stride = out_stride
        self.laterals = nn.ModuleDict({
            str(stride): ChannelReducer(channels, out_channels) for stride, channels in sorted(skips.items())
        })

    def forward(self, x: Tensor, skips: dict[int, Tensor] | None = None) -> Tensor:  # type: ignore[override]
        if skips is None or {int(s) for s in self.laterals} - set(skips):
            raise ValueError(f"SkipDecoder needs the backbone features at strides {sorted(int(s) for s in self.laterals)}")
        x = self.to_stride_16(x)
        stride = 16
        while True:
            if str(stride) in self.laterals:
                x = F.relu(x + self.laterals[str(stride)](skips[stride]))
            if stride == self.out_stride:
                return x
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            stride //= 2
