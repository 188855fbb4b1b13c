"""ShuffleNetV2 ×0.5 and ×1.0 laid out exactly like torchvision's, so its ImageNet checkpoints load.

AMMA-S and AMMA-T run on embedded GPUs where ShuffleNetV2's channel split and shuffle keep memory traffic low;
the module names (`conv1`, `stage2` … `stage4`, `conv5`, `fc`) are what checkpoints and AMMA's fusion
plan refer to.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.backbones.layers import depthwise_conv

_STAGE_REPEATS = (4, 8, 4)
# Output channels of conv1, stage2, stage3, stage4 and conv5 for each published width.
_STAGE_OUT_CHANNELS = {
    "x0_5": (24, 48, 96, 192, 1024),
    "x1_0": (24, 116, 232, 464, 1024),
}


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of `groups` equal groups, so the next block's split mixes both branches."""
    n, c, h, w = x.shape
    x = x.reshape(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)


class InvertedResidual(nn.Module):
    """A ShuffleNetV2 unit.

    With stride 1 the input is split in half, one half passes untouched and the other through `branch2`;
    with stride 2 both branches see the whole input and each yields half the output channels.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"a ShuffleNetV2 unit has stride 1 or 2, got {stride}")
        half = out_channels // 2
        if stride == 1 and in_channels != 2 * half:
            raise ValueError(f"a stride-1 ShuffleNetV2 unit keeps its width: got {in_channels} → {out_channels}")
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                depthwise_conv(in_channels, 3, stride),
                nn.BatchNorm2d(in_channels),
                nn.Conv2d(in_channels, half, kernel_size=1, bias=False),
                nn.BatchNorm2d(half),
                nn.ReLU(inplace=True),
            )
        else:
            # Present but empty, as in torchvision, so both kinds of unit have the same attributes.
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_channels if stride > 1 else half, half, kernel_size=1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            depthwise_conv(half, 3, stride),
            nn.BatchNorm2d(half),
            nn.Conv2d(half, half, kernel_size=1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            passthrough, processed = x.chunk(2, dim=1)
            out = torch.cat((passthrough, self.branch2(processed)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNetV2; without the classifier it returns the (N, 1024, H/32, W/32) output of conv5.

    Parameters keep PyTorch's default initialisation, because torchvision's ShuffleNetV2 does and its
    published weights were trained from that start.
    """

    stage2: nn.Sequential
    stage3: nn.Sequential
    stage4: nn.Sequential

    def __init__(
        self,
        stages_repeats: Sequence[int],
        stages_out_channels: Sequence[int],
        *,
        num_classes: int = 1000,
        include_classifier: bool = True,
        arch: str = "shufflenet_v2",
    ):
        super().__init__()
        if len(stages_repeats) != 3 or len(stages_out_channels) != 5:
            raise ValueError(
                "ShuffleNetV2 needs 3 stage repeat counts and 5 output widths, "
                f"got {list(stages_repeats)} and {list(stages_out_channels)}"
            )
        if include_classifier and num_classes < 1:
            raise AmmaEdgeError(
                f"num_classes must be at least 1, got {num_classes}; "
                "pass include_classifier=False to build the network without a classifier"
            )
        self.arch = arch
        self.include_classifier = include_classifier
        # Private-looking name kept from torchvision: code written against torchvision reads it.
        self._stage_out_channels = list(stages_out_channels)

        stem = self._stage_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, stem, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = stem
        for index, repeats, out_channels in zip((2, 3, 4), stages_repeats, self._stage_out_channels[1:4]):
            units = [InvertedResidual(in_channels, out_channels, 2)]
            units += [InvertedResidual(out_channels, out_channels, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{index}", nn.Sequential(*units))
            in_channels = out_channels
        last = self._stage_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(in_channels, last, kernel_size=1, bias=False),
            nn.BatchNorm2d(last),
            nn.ReLU(inplace=True),
        )
        if include_classifier:
            self.fc = nn.Linear(last, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Images (N, 3, H, W) → logits (N, num_classes), or features (N, 1024, H/32, W/32) headless."""
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        if not self.include_classifier:
            return x
        return self.fc(x.mean((2, 3)))


def _build(width: str, num_classes: int, include_classifier: bool) -> ShuffleNetV2:
    return ShuffleNetV2(
        _STAGE_REPEATS,
        _STAGE_OUT_CHANNELS[width],
        num_classes=num_classes,
        include_classifier=include_classifier,
        arch=f"shufflenet_v2_{width}",
    )


def shufflenet_v2_x0_5(*, num_classes: int = 1000, include_classifier: bool = True) -> ShuffleNetV2:
    """ShuffleNetV2 ×0.5 (1.4 M parameters with 1000 classes); loads torchvision's shufflenet_v2_x0_5 weights."""
    return _build("x0_5", num_classes, include_classifier)


def shufflenet_v2_x1_0(*, num_classes: int = 1000, include_classifier: bool = True) -> ShuffleNetV2:
    """ShuffleNetV2 ×1.0 (2.3 M parameters with 1000 classes); loads torchvision's shufflenet_v2_x1_0 weights."""
    return _build("x1_0", num_classes, include_classifier)
