"""MobileNetV2 laid out exactly like torchvision's, so its ImageNet checkpoint loads without renaming keys.

Everything before the classifier lives in one `features` Sequential (stem, 17 inverted residuals, 1×1 head
convolution); AMMA cuts it by index (`features.1`, `features.3`, `features.6`) to place its fusions, so the
indices are as much a contract as the names.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.backbones.layers import depthwise_conv

# Per group of blocks: expansion ratio t, output channels c, repeats n, stride of the first block s.
_INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_STEM_CHANNELS = 32
_LAST_CHANNELS = 1280


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of `divisor`, never more than 10% below `value`.

    This is the reference MobileNet rule; any other rounding changes layer shapes at width_mult ≠ 1 and
    breaks checkpoints trained with it.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBNReLU6(nn.Sequential):
    """Convolution, batch norm, ReLU6 as children 0, 1, 2: the key layout of torchvision's Conv2dNormActivation.

    Padding keeps the size at stride 1 and halves it at stride 2; there is no bias because batch norm follows.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, groups: int = 1):
        padding = (kernel_size - 1) // 2
        if groups > 1 and groups == in_channels == out_channels:
            conv = depthwise_conv(in_channels, kernel_size, stride)
        else:
            conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        super().__init__(
            conv,
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """Expand (1×1), filter (3×3 depthwise), project (1×1, linear); residual when the shape is unchanged."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"an inverted residual has stride 1 or 2, got {stride}")
        self.stride = stride
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden = int(round(in_channels * expand_ratio))
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2; without the classifier it returns the (N, last_channel, H/32, W/32) feature map."""

    def __init__(self, *, num_classes: int = 1000, width_mult: float = 1.0, include_classifier: bool = True):
        super().__init__()
        if not width_mult > 0:
            raise AmmaEdgeError(f"MobileNetV2 width_mult must be positive, got {width_mult}; 1.0 is the published size")
        if include_classifier and num_classes < 1:
            raise AmmaEdgeError(
                f"num_classes must be at least 1, got {num_classes}; "
                "pass include_classifier=False to build the network without a classifier"
            )
        self.arch = "mobilenet_v2" if width_mult == 1.0 else f"mobilenet_v2 (width_mult={width_mult})"
        self.include_classifier = include_classifier
        self.width_mult = width_mult
        # Widening (width_mult > 1) widens the last layer too; narrowing keeps 1280 so the classifier stays strong.
        self.last_channel = make_divisible(_LAST_CHANNELS * max(1.0, width_mult))

        in_channels = make_divisible(_STEM_CHANNELS * width_mult)
        features: list[nn.Module] = [ConvBNReLU6(3, in_channels, stride=2)]
        for t, c, n, s in _INVERTED_RESIDUAL_SETTING:
            out_channels = make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(in_channels, out_channels, s if i == 0 else 1, expand_ratio=t))
                in_channels = out_channels
        features.append(ConvBNReLU6(in_channels, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        if include_classifier:
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last_channel, num_classes))
        self._init_like_torchvision()

    def _init_like_torchvision(self) -> None:
        """He-normal (fan-out) convolutions, identity norms, a near-zero classifier: torchvision's starting point."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Images (N, 3, H, W) → logits (N, num_classes), or features (N, last_channel, H/32, W/32) headless."""
        x = self.features(x)
        if not self.include_classifier:
            return x
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, (1, 1)), 1)
        return self.classifier(x)


def mobilenet_v2(*, num_classes: int = 1000, width_mult: float = 1.0, include_classifier: bool = True) -> MobileNetV2:
    """MobileNetV2 (3.5 M parameters at width 1.0 with 1000 classes); loads torchvision's mobilenet_v2 weights."""
    return MobileNetV2(num_classes=num_classes, width_mult=width_mult, include_classifier=include_classifier)
