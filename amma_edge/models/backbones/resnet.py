"""ResNet-18 / ResNet-34 (basic blocks) laid out exactly like torchvision's, so its ImageNet checkpoints load.

The module names (`conv1`, `bn1`, `layer1` … `layer4`, `fc`) are a contract, not a style choice: published
weights are keyed by them and AMMA's two-stream encoder cuts the network into segments by them.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from amma_edge.errors import AmmaEdgeError

# Output channels of layer1 … layer4; each later stage halves the resolution.
_STAGE_CHANNELS = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions plus a shortcut; the shortcut is a strided 1×1 projection when the shape changes."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        downsample = None
        if stride != 1 or in_channels != channels:
            downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """A basic-block ResNet; without the classifier it ends at layer4 and returns the stride-32 feature map."""

    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(
        self,
        blocks_per_stage: Sequence[int],
        *,
        num_classes: int = 1000,
        include_classifier: bool = True,
        arch: str = "resnet",
    ):
        super().__init__()
        if len(blocks_per_stage) != 4 or any(n < 1 for n in blocks_per_stage):
            raise ValueError(f"a ResNet needs four stages of at least one block each, got {list(blocks_per_stage)}")
        _check_num_classes(num_classes, include_classifier)
        # Named after torchvision's builder, so error messages can say which checkpoint fits this network.
        self.arch = arch
        self.include_classifier = include_classifier
        self.out_channels = _STAGE_CHANNELS[-1]

        self.conv1 = nn.Conv2d(3, _STAGE_CHANNELS[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(_STAGE_CHANNELS[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = _STAGE_CHANNELS[0]
        for index, (channels, count) in enumerate(zip(_STAGE_CHANNELS, blocks_per_stage), start=1):
            stride = 1 if index == 1 else 2
            blocks = [BasicBlock(in_channels, channels, stride)]
            blocks += [BasicBlock(channels, channels) for _ in range(count - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
            in_channels = channels
        if include_classifier:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(self.out_channels, num_classes)
        _init_like_torchvision(self)

    def forward(self, x: Tensor) -> Tensor:
        """Images (N, 3, H, W) → logits (N, num_classes), or features (N, 512, H/32, W/32) without classifier."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if not self.include_classifier:
            return x
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _check_num_classes(num_classes: int, include_classifier: bool) -> None:
    if include_classifier and num_classes < 1:
        raise AmmaEdgeError(
            f"num_classes must be at least 1, got {num_classes}; "
            "pass include_classifier=False to build the network without a classifier"
        )


def _init_like_torchvision(model: nn.Module) -> None:
    """He-normal convolutions (fan-out) and identity batch norms: the start torchvision's recipes train from.

    The classifier keeps PyTorch's default Linear initialisation, as torchvision's ResNet does.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def resnet18(*, num_classes: int = 1000, include_classifier: bool = True) -> ResNet:
    """ResNet-18 (11.7 M parameters with the 1000-class classifier); loads torchvision's resnet18 weights."""
    return ResNet((2, 2, 2, 2), num_classes=num_classes, include_classifier=include_classifier, arch="resnet18")


def resnet34(*, num_classes: int = 1000, include_classifier: bool = True) -> ResNet:
    """ResNet-34 (21.8 M parameters with the 1000-class classifier); loads torchvision's resnet34 weights."""
    return ResNet((3, 4, 6, 3), num_classes=num_classes, include_classifier=include_classifier, arch="resnet34")
