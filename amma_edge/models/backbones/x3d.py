"""X3D-XS / S / M video backbones (Feichtenhofer, CVPR 2020), laid out like pytorchvideo's `create_x3d`.

The module names are a contract, not a style choice: Kinetics checkpoints of pytorchvideo's X3D are keyed by
them, and a state dict saved from `pytorchvideo.models.x3d.create_x3d` loads into these networks with
`strict=True`. That includes two oddities kept on purpose: in the stem, `conv.conv_t` is the *spatial* 1×3×3
convolution and `conv.conv_xy` the *temporal* 5×1×1 one (pytorchvideo swaps the names), and the first block
of stage 1 has a shortcut convolution but no shortcut batch norm (its channel count does not change).

Data flow of X3D-M (channels × T × H × W for a 16 × 224 × 224 clip; XS and S are the same network fed
4 × 160² and 13 × 160² clips; `width` scales every channel count):

    clip (B, 3, T, H, W)
      └► blocks.0 stem: 1×3×3 stride 2 conv → 5×1×1 depthwise conv → BN → ReLU      24 × 16 × 112²
      └► blocks.1 stage 1:  3 bottlenecks, first one stride 2                       24 × 16 × 56²
      └► blocks.2 stage 2:  5 bottlenecks                                           48 × 16 × 28²   (A*'s VF2)
      └► blocks.3 stage 3: 11 bottlenecks                                           96 × 16 × 14²
      └► blocks.4 stage 4:  7 bottlenecks                                          192 × 16 × 7²    (A*'s VF4)
      └► blocks.5 head: 1×1×1 conv 192→432, BN, ReLU → global average pool
                        → 1×1×1 conv 432→2048, ReLU → dropout → linear → logits (B, num_classes)

    bottleneck: 1×1×1 conv (C → 2.25·C) BN ReLU → 3×3×3 depthwise conv BN [SE] Swish → 1×1×1 conv BN,
                plus the shortcut, then ReLU. Squeeze-excitation (1/16 of the channels) on every other block.

Time is never strided, so every stage keeps one feature per input frame and its last temporal index is
aligned with the last frame of the clip (past it there is only zero padding): what A* slices as the key frame.

Two parameter-free departures from pytorchvideo, neither of which touches the state dict: the head pools
globally (pytorchvideo's fixed pooling window covers the whole map only at the variant's nominal input
size and is too large for smaller clips), and the head returns logits, not pytorchvideo's softmax, so it
trains with a cross-entropy loss as it is.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from amma_edge.errors import InputShapeError

# X3D-M, which XS and S share (pytorchvideo: stem 12 and stages 12/24/48/96 widened 2×, depths 1/2/5/3 deepened 2.2×).
_STEM_CHANNELS = 24
_STAGE_CHANNELS = (24, 48, 96, 192)
_STAGE_DEPTHS = (3, 5, 11, 7)
_BOTTLENECK_FACTOR = 2.25
_SE_RATIO = 0.0625
_HEAD_CHANNELS = 2048
_DROPOUT = 0.5
# Nominal clip of each variant: (frames, crop size). Only the input differs between the three.
_VARIANTS = {"x3d_xs": (4, 160), "x3d_s": (13, 160), "x3d_m": (16, 224)}


def _round_channels(channels: float, divisor: int = 8) -> int:
    """Nearest multiple of `divisor` (at least `divisor`), rounding up when rounding down would lose over 10 %.

    This is the rule X3D widths and SE sizes are made with, so width 1.0 reproduces the published channels.
    """
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * channels:
        rounded += divisor
    return int(rounded)


class SpatialThenTemporalConv(nn.Module):
    """The stem's factorised convolution: 1×3×3 spatial, then a depthwise 5×1×1 temporal one.

    Attribute names follow pytorchvideo's checkpoints, where `conv_t` holds the spatial kernel.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv_t = nn.Conv3d(in_channels, out_channels, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
        self.conv_xy = nn.Conv3d(
            out_channels, out_channels, (5, 1, 1), padding=(2, 0, 0), groups=out_channels, bias=False
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_xy(self.conv_t(x))


class Stem(nn.Module):
    def __init__(self, out_channels: int):
        super().__init__()
        self.conv = SpatialThenTemporalConv(3, out_channels)
        self.norm = nn.BatchNorm3d(out_channels)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.norm(self.conv(x)))


class SqueezeExcitation(nn.Module):
    """Rescales channels by a gate computed from their clip-wide mean (fvcore's layout: `block.0`, `block.2`)."""

    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv3d(channels, reduced, 1, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv3d(reduced, channels, 1, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.block(x.mean(dim=(2, 3, 4), keepdim=True))


class Bottleneck(nn.Module):
    """1×1×1 expand → 3×3×3 depthwise (the only spatial/temporal mixing) → 1×1×1 project."""

    def __init__(self, in_channels: int, inner_channels: int, out_channels: int, *, spatial_stride: int, se: bool):
        super().__init__()
        self.conv_a = nn.Conv3d(in_channels, inner_channels, 1, bias=False)
        self.norm_a = nn.BatchNorm3d(inner_channels)
        self.act_a = nn.ReLU(inplace=True)
        self.conv_b = nn.Conv3d(
            inner_channels,
            inner_channels,
            3,
            stride=(1, spatial_stride, spatial_stride),
            padding=1,
            groups=inner_channels,
            bias=False,
        )
        excitation: nn.Module = (
            SqueezeExcitation(inner_channels, _round_channels(inner_channels * _SE_RATIO)) if se else nn.Identity()
        )
        # SE sits inside norm_b (index 1) because that is where pytorchvideo's checkpoints keep its weights.
        self.norm_b = nn.Sequential(nn.BatchNorm3d(inner_channels), excitation)
        self.act_b = nn.SiLU()  # Swish
        self.conv_c = nn.Conv3d(inner_channels, out_channels, 1, bias=False)
        self.norm_c = nn.BatchNorm3d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class ResBlock(nn.Module):
    def __init__(self, in_channels: int, inner_channels: int, out_channels: int, *, spatial_stride: int, se: bool):
        super().__init__()
        reshaped = in_channels != out_channels or spatial_stride != 1
        self.branch1_conv = (
            nn.Conv3d(in_channels, out_channels, 1, stride=(1, spatial_stride, spatial_stride), bias=False)
            if reshaped
            else None
        )
        # As in pytorchvideo, the shortcut is normalised only when the channel count changes.
        self.branch1_norm = nn.BatchNorm3d(out_channels) if in_channels != out_channels else None
        self.branch2 = Bottleneck(in_channels, inner_channels, out_channels, spatial_stride=spatial_stride, se=se)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        if self.branch1_conv is not None:
            shortcut = self.branch1_conv(shortcut)
        if self.branch1_norm is not None:
            shortcut = self.branch1_norm(shortcut)
        return self.activation(shortcut + self.branch2(x))


class ResStage(nn.Module):
    """`depth` blocks; the first halves the spatial size, odd-numbered blocks (1st, 3rd, …) carry SE."""

    def __init__(self, in_channels: int, out_channels: int, depth: int):
        super().__init__()
        inner = int(_BOTTLENECK_FACTOR * out_channels)
        self.res_blocks = nn.ModuleList(
            ResBlock(
                in_channels if i == 0 else out_channels,
                inner,
                out_channels,
                spatial_stride=2 if i == 0 else 1,
                se=i % 2 == 0,
            )
            for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


class ProjectedPool(nn.Module):
    """Widen, pool the whole clip, widen again: X3D's head puts its width after pooling, where it is cheap."""

    def __init__(self, in_channels: int, inner_channels: int, out_channels: int):
        super().__init__()
        self.pre_conv = nn.Conv3d(in_channels, inner_channels, 1, bias=False)
        self.pre_norm = nn.BatchNorm3d(inner_channels)
        self.pre_act = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.post_conv = nn.Conv3d(inner_channels, out_channels, 1, bias=False)
        self.post_act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.pre_act(self.pre_norm(self.pre_conv(x))))
        return self.post_act(self.post_conv(x))


class Head(nn.Module):
    def __init__(self, in_channels: int, inner_channels: int, out_channels: int, num_classes: int):
        super().__init__()
        self.pool = ProjectedPool(in_channels, inner_channels, out_channels)
        self.dropout = nn.Dropout(_DROPOUT)
        self.proj = nn.Linear(out_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.dropout(torch.flatten(self.pool(x), 1)))


class X3D(nn.Module):
    """X3D as `blocks` = [stem, stage 1 … stage 4, head]; without the head it ends at stage 4's features."""

    blocks: nn.ModuleList

    def __init__(self, *, arch: str, num_classes: int = 400, include_head: bool = True, width: float = 1.0):
        super().__init__()
        if arch not in _VARIANTS:
            raise ValueError(f"unknown X3D variant {arch!r}; expected one of {', '.join(_VARIANTS)}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if include_head and num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}; or pass include_head=False")
        self.arch = arch
        self.include_head = include_head
        frames, crop = _VARIANTS[arch]
        self.clip_shape = (frames, crop, crop)  # the (T, H, W) the variant was designed and trained for
        stem = _round_channels(_STEM_CHANNELS * width)
        self.stage_channels = tuple(_round_channels(c * width) for c in _STAGE_CHANNELS)
        self.out_channels = self.stage_channels[-1]

        blocks: list[nn.Module] = [Stem(stem)]
        in_channels = stem
        for channels, depth in zip(self.stage_channels, _STAGE_DEPTHS):
            blocks.append(ResStage(in_channels, channels, depth))
            in_channels = channels
        if include_head:
            inner = int(_BOTTLENECK_FACTOR * in_channels)
            blocks.append(Head(in_channels, inner, _round_channels(_HEAD_CHANNELS * width), num_classes))
        self.blocks = nn.ModuleList(blocks)
        _init_like_pytorchvideo(self)

    def forward(self, clip: Tensor) -> Tensor:
        """Clips (B, 3, T, H, W) → logits (B, num_classes), or stage-4 features (B, C4, T, H/32, W/32) headless."""
        self._check_clip(clip)
        x = clip
        for block in self.blocks:
            x = block(x)
        return x

    def forward_stages(self, clip: Tensor, stages: Sequence[int] = (1, 2, 3, 4)) -> list[Tensor]:
        """The outputs of the requested stages (numbered 1-4, stage k at stride 2^(k+1)), in the order asked.

        Only the blocks up to the deepest requested stage run; the head never does.
        """
        if not stages or any(s not in (1, 2, 3, 4) for s in stages):
            raise ValueError(f"stages must be numbers from 1 to 4, got {list(stages)}")
        self._check_clip(clip)
        outputs: dict[int, Tensor] = {}
        x = self.blocks[0](clip)
        for index in range(1, max(stages) + 1):
            x = self.blocks[index](x)
            outputs[index] = x
        return [outputs[s] for s in stages]

    def _check_clip(self, clip: Tensor) -> None:
        if torch.jit.is_tracing():  # an exporter traces one known-good input; shape checks would only warn there
            return
        if clip.dim() != 5 or clip.shape[1] != 3:
            t, h, w = self.clip_shape
            raise InputShapeError(
                f"{self.arch} expects clips of shape (B, 3, T, H, W), channels before time, "
                f"e.g. (B, 3, {t}, {h}, {w}); got {tuple(clip.shape)}"
            )


def _init_like_pytorchvideo(model: nn.Module) -> None:
    """He-normal convolutions (fan-out), identity batch norms, N(0, 0.01) classifier: pytorchvideo's X3D start."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)


def x3d_xs(*, num_classes: int = 400, include_head: bool = True, width: float = 1.0) -> X3D:
    """X3D-XS: X3D-M's network for 4 × 160² clips (3.79 M parameters with the 400-class head)."""
    return X3D(arch="x3d_xs", num_classes=num_classes, include_head=include_head, width=width)


def x3d_s(*, num_classes: int = 400, include_head: bool = True, width: float = 1.0) -> X3D:
    """X3D-S: X3D-M's network for 13 × 160² clips (3.79 M parameters with the 400-class head)."""
    return X3D(arch="x3d_s", num_classes=num_classes, include_head=include_head, width=width)


def x3d_m(*, num_classes: int = 400, include_head: bool = True, width: float = 1.0) -> X3D:
    """X3D-M for 16 × 224² clips: 3.79 M parameters with the 400-class head, 4.73 G multiply-adds per clip."""
    return X3D(arch="x3d_m", num_classes=num_classes, include_head=include_head, width=width)


BUILDERS = {"x3d_xs": x3d_xs, "x3d_s": x3d_s, "x3d_m": x3d_m}
