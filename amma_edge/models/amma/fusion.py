"""Two-stream clip encoding with uni-lateral fusion (AMMA §3.2, "multi-scale spatiotemporal fusion").

The appearance stream is a full ImageNet backbone run on the clip's last frame. The motion stream duplicates
the backbone's early stages and runs on the micro-motion map. After each of the first three fusion points
the appearance feature becomes w·appearance + (1 − w)·motion with a learnable w in (0, 1); the motion stream
never sees appearance (uni-lateral). The published positions are:

    ResNet-18     after conv1 (+ max-pool), layer1, layer2   (the paper's stages 1-3)
    MobileNetV2   after inverted-residual blocks 1, 3 and 6
    ShuffleNetV2  after Conv1 (+ max-pool), Stage2, Stage3

Both streams keep torchvision's module names, so ImageNet weights load into either with `load_pretrained`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from amma_edge.models.backbones.mobilenet_v2 import mobilenet_v2
from amma_edge.models.backbones.resnet import resnet18
from amma_edge.models.backbones.shufflenet_v2 import shufflenet_v2_x0_5, shufflenet_v2_x1_0

# Initial appearance weight of every fusion, as in the authors' release.
INITIAL_APPEARANCE_WEIGHT = 0.6


class LateralFusion(nn.Module):
    """w·appearance + (1 − w)·motion, with w = sigmoid(logit) so it stays in (0, 1) throughout training."""

    def __init__(self, initial_weight: float = INITIAL_APPEARANCE_WEIGHT):
        super().__init__()
        self.weight_logit = nn.Parameter(torch.tensor([math.log(initial_weight / (1.0 - initial_weight))]))

    @property
    def appearance_weight(self) -> float:
        return float(torch.sigmoid(self.weight_logit.detach()))

    def forward(self, appearance: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.weight_logit)
        return w * appearance + (1.0 - w) * motion


class BackbonePlan:
    """How one backbone is cut into the three fused segments and the appearance-only rest.

    Segments are lists of dotted submodule names run in order; `motion_keep` names the top-level modules
    the motion stream needs (the rest is deleted so it costs no parameters).
    """

    def __init__(self, build, segments: list[list[str]], motion_keep: list[str], out_channels):
        self.build = build
        self.segments = segments
        self.motion_keep = motion_keep
        self.out_channels = out_channels


def _plan(name: str, width: float) -> BackbonePlan:
    if name == "resnet18":
        if width != 1.0:
            raise ValueError(f"resnet18 has no width multiplier; use width=1.0, got {width}")
        return BackbonePlan(
            build=lambda: resnet18(include_classifier=False),
            segments=[["conv1", "bn1", "relu", "maxpool"], ["layer1"], ["layer2"], ["layer3", "layer4"]],
            motion_keep=["conv1", "bn1", "relu", "maxpool", "layer1", "layer2"],
            out_channels=lambda m: 512,
        )
    if name == "mobilenet_v2":
        return BackbonePlan(
            build=lambda: mobilenet_v2(width_mult=width, include_classifier=False),
            segments=[
                ["features.0", "features.1"],
                ["features.2", "features.3"],
                ["features.4", "features.5", "features.6"],
                [f"features.{i}" for i in range(7, 19)],
            ],
            motion_keep=["features"],
            out_channels=lambda m: m.last_channel,
        )
    if name == "shufflenet_v2":
        builders = {0.5: shufflenet_v2_x0_5, 1.0: shufflenet_v2_x1_0}
        if width not in builders:
            raise ValueError(f"shufflenet_v2 comes in widths 0.5 and 1.0, got {width}")
        return BackbonePlan(
            build=lambda: builders[width](include_classifier=False),
            segments=[["conv1", "maxpool"], ["stage2"], ["stage3"], ["stage4", "conv5"]],
            motion_keep=["conv1", "maxpool", "stage2", "stage3"],
            out_channels=lambda m: m._stage_out_channels[-1],
        )
    raise ValueError(f"unknown AMMA backbone {name!r}")


def _prune_for_motion(backbone: nn.Module, plan: BackbonePlan, motion_channels: int) -> nn.Module:
    """Drop what the motion stream never runs and give its first convolution `motion_channels` inputs."""
    used = {name for segment in plan.segments[:3] for name in segment}
    for name, _ in list(backbone.named_children()):
        if name not in plan.motion_keep:
            delattr(backbone, name)
    if hasattr(backbone, "features"):  # MobileNetV2: keep only the blocks the fused segments run
        keep = sorted(int(n.split(".")[1]) for n in used if n.startswith("features."))
        backbone.features = backbone.features[: keep[-1] + 1]
    first = next(m for m in backbone.modules() if isinstance(m, nn.Conv2d))
    if first.in_channels != motion_channels:
        replacement = nn.Conv2d(
            motion_channels, first.out_channels, first.kernel_size, first.stride, first.padding, bias=first.bias is not None
        )
        nn.init.kaiming_normal_(replacement.weight, mode="fan_out", nonlinearity="relu")
        parent_name, _, child = _first_conv_name(backbone).rpartition(".")
        setattr(backbone.get_submodule(parent_name) if parent_name else backbone, child, replacement)
    return backbone


def _first_conv_name(module: nn.Module) -> str:
    return next(n for n, m in module.named_modules() if isinstance(m, nn.Conv2d))


class TwoStreamBackbone(nn.Module):
    """Last frame (B, 3, H, W) and micro-motion (B, t−1, H, W) → appearance feature at stride 32."""

    def __init__(self, backbone: str, width: float, motion_channels: int | None):
        super().__init__()
        plan = _plan(backbone, width)
        self.appearance = plan.build()
        self.out_channels = plan.out_channels(self.appearance)
        # Segments are kept as names and looked up at call time, so a pass that swaps submodules
        # (batch-norm folding, quantisation) can never leave the forward running stale modules.
        self._segments = plan.segments
        if motion_channels is None:
            self.motion = None
            self.fusions = None
        else:
            self.motion = _prune_for_motion(plan.build(), plan, motion_channels)
            self.fusions = nn.ModuleList(LateralFusion() for _ in range(3))

    def forward(self, frame: torch.Tensor, motion: torch.Tensor | None = None) -> torch.Tensor:
        return self.segment_outputs(frame, motion)[-1]

    def segment_outputs(self, frame: torch.Tensor, motion: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The (fused) appearance feature after each of the four segments, finest first; the last is stride 32.

        A decoder with skip connections reads the earlier ones, which still know where things are to a few pixels.
        """
        x = frame
        outputs = []
        for i, segment in enumerate(self._segments):
            x = _run(self.appearance, segment, x)
            if self.motion is not None and i < 3:
                motion = _run(self.motion, segment, motion)
                x = self.fusions[i](x, motion)
            outputs.append(x)
        return outputs

    def segment_shapes(self) -> list[tuple[int, int]]:
        """(channels, stride) of each segment's output, measured once on a small dummy frame."""
        size = 64
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                frame = torch.zeros(1, 3, size, size)
                motion = None
                if self.motion is not None:
                    first = next(m for m in self.motion.modules() if isinstance(m, nn.Conv2d))
                    motion = torch.zeros(1, first.in_channels, size, size)
                outputs = self.segment_outputs(frame, motion)
        finally:
            self.train(was_training)
        return [(int(o.shape[1]), size // int(o.shape[-1])) for o in outputs]


def _run(module: nn.Module, names: list[str], x: torch.Tensor) -> torch.Tensor:
    for name in names:
        x = module.get_submodule(name)(x)
    return x
