"""One frozen configuration per model family; a preset is one instance of it.

A configuration holds everything needed to rebuild the network and to feed it (input size, clip layout,
normalisation), so that it can be saved beside every checkpoint, ONNX file and engine and the artifact
alone is enough to run.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# ImageNet statistics in RGB order on a 0-1 scale: the backbones are ImageNet architectures and users may
# load ImageNet weights with --pretrained.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

AMMA_BACKBONES = ("resnet18", "mobilenet_v2", "shufflenet_v2")
MICRO_MOTION_VARIANTS = ("conv_diff", "rgb_diff", "none")
# "amma": the published decoder, up from stride 32 alone. "skip": the same, plus the backbone's stride-16 and
# stride-8 features added on the way up (see amma_edge.models.amma.decoder.SkipDecoder).
AMMA_DECODERS = ("amma", "skip")
# R, the stride of the output grid: 8 as published; 4 (CenterNet's) also reads the backbone's stride-4 stage,
# so it needs the skip decoder.
AMMA_OUTPUT_STRIDES = (8, 4)


@dataclass(frozen=True)
class AMMAConfig:
    """AMMA tubelet detector (paper 003): a clip encoder shared over K clips and a head over their features.

    K clips of t frames each; the key frame is the last frame of the last clip. Defaults are the UCF101-24
    setting of the paper (K = 3, t = 4, 288×288, 24 classes).

    `frame_step` > 1 makes the model see every frame_step-th frame of the video, so the K clips cover
    K·t·frame_step frames of time at the cost of K·t: longer context for actions told apart by where they
    go (sit_down against stand_up), and a camera stream the device reads at 1/frame_step of its rate. The
    frames in between get boxes interpolated between clip ends, as every frame between clip ends does.

    `hop` < t makes consecutive clips overlap: clip ends `hop` sampled frames apart, each clip still t frames
    long. The micro-motion stream then sees t frames of movement per clip while boxes stay `hop` frames
    apart; on a stream the encoder still runs once per new clip, one per `hop` frames. 0 (the default, as
    published) means hop = t: consecutive clips that do not overlap.
    """

    name: str = "amma-s"
    backbone: str = "shufflenet_v2"
    width: float = 1.0
    num_classes: int = 24
    K: int = 3
    t: int = 4
    input_size: tuple[int, int] = (288, 288)  # (height, width), multiples of 32
    micro_motion: str = "conv_diff"
    feature_dim: int = 256  # D: decoder channels at the output stride R
    head_conv: int = 256  # hidden channels of the center and trajectory branches
    box_head_conv: int = 64  # hidden channels of the per-clip box branch
    center_depth: int = 1  # 3×3 convolutions in the center branch (1 as published): more see farther, in space and across clips
    decoder: str = "amma"  # one of AMMA_DECODERS
    output_stride: int = 8  # R, one of AMMA_OUTPUT_STRIDES
    frame_step: int = 1  # the model reads every frame_step-th video frame (1: every frame, as published)
    hop: int = 0  # sampled frames from one clip end to the next, 1..t; 0 means t (clips do not overlap)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    family: str = dataclasses.field(default="amma", init=False)

    def __post_init__(self) -> None:
        _check_choice("backbone", self.backbone, AMMA_BACKBONES)
        _check_choice("micro_motion", self.micro_motion, MICRO_MOTION_VARIANTS)
        _check_choice("decoder", self.decoder, AMMA_DECODERS)
        _check_choice("output_stride", self.output_stride, AMMA_OUTPUT_STRIDES)
        if self.output_stride != 8 and self.decoder != "skip":
            raise ValueError(f"output_stride={self.output_stride} reads the backbone's stride-{self.output_stride} "
                             f"features, which only the skip decoder adds: also set decoder=skip")
        _check_positive(self, ("num_classes", "K", "feature_dim", "head_conv", "box_head_conv", "center_depth"))
        if int(self.frame_step) != self.frame_step or self.frame_step < 1:
            raise ValueError(f"frame_step must be a whole number of frames, at least 1 (1 reads every frame), "
                             f"got {self.frame_step}")
        if int(self.hop) != self.hop or not 0 <= self.hop <= self.t:
            raise ValueError(f"hop must be a whole number of sampled frames from 1 to t={self.t} (clips that "
                             f"overlap by t - hop frames), or 0 for hop = t; got {self.hop}")
        if self.t < 2 and self.micro_motion != "none":
            raise ValueError(f"micro-motion needs clips of at least 2 frames (t >= 2), got t={self.t}")
        if self.t < 1:
            raise ValueError(f"t must be at least 1, got {self.t}")
        if self.feature_dim % 4:
            raise ValueError(f"feature_dim must be a multiple of 4 (the head reduces it by 4), got {self.feature_dim}")
        _check_input_size(self.input_size)

    @property
    def stride(self) -> int:
        return self.output_stride

    @property
    def clip_span(self) -> int:
        """Video frames one clip covers: t sampled frames, frame_step apart."""
        return self.t * self.frame_step

    @property
    def new_frames_per_clip(self) -> int:
        """Sampled frames each clip adds to the one before: `hop`, or t when clips do not overlap."""
        return self.hop or self.t

    @property
    def clip_hop(self) -> int:
        """Video frames from one clip end to the next: new_frames_per_clip sampled frames, frame_step apart.
        The stream encodes one clip, and the head scores one step, per clip_hop frames."""
        return self.new_frames_per_clip * self.frame_step

    @property
    def output_size(self) -> tuple[int, int]:
        return (self.input_size[0] // self.stride, self.input_size[1] // self.stride)


@dataclass(frozen=True)
class AStarConfig:
    """A* frame-level detector (paper 000) on an X3D backbone, real-time setting: past frames only.

    One pass per key frame over a window of `clip_len` frames ending at the key frame.

    `anchors` are the YOLO priors of the head, (width, height) pairs in cells of the stride-32 grid (a 7×7 grid
    at 224×224); their count is the number of anchors. The paper does not list any: the defaults are those of
    YOWO, the baseline A* builds on, for UCF101-24 (`anchors` in YOWO's cfg/ucf24.cfg). YOWO's JHMDB-21 ones
    are ((0.95878, 3.10197), (1.67204, 4.0040), (1.75482, 5.64937), (3.09299, 5.80857), (4.91803, 6.25225)).
    """

    name: str = "astar-x3dm"
    backbone: str = "x3d_m"
    width: float = 1.0  # multiplies the backbone's channel widths (narrower models for CPU training)
    num_classes: int = 24
    clip_len: int = 16
    input_size: tuple[int, int] = (224, 224)
    head_channels: int = 256  # C_head: channels of the fused IVFF feature
    astpp_rates: tuple[int, ...] = (1, 3, 6, 9)
    anchors: tuple[tuple[float, float], ...] = (
        (0.70458, 1.18803),
        (1.26654, 2.55121),
        (1.59382, 4.08321),
        (2.30548, 4.94180),
        (3.52332, 5.91979),
    )
    embedding_dim: int = 128  # action embedding used by the proxy-anchor loss
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    family: str = dataclasses.field(default="astar", init=False)

    def __post_init__(self) -> None:
        _check_choice("backbone", self.backbone, ("x3d_xs", "x3d_s", "x3d_m"))
        _check_positive(self, ("num_classes", "clip_len", "head_channels", "embedding_dim"))
        if self.width <= 0:
            raise ValueError(f"width must be positive, got {self.width}")
        if not self.astpp_rates or any(int(r) != r or r < 1 for r in self.astpp_rates):
            raise ValueError(f"astpp_rates must be one or more positive integer dilation rates, got {self.astpp_rates}")
        # JSON gives the pairs back as lists; keep the configuration hashable and equal to the one saved.
        object.__setattr__(self, "anchors", self._anchor_pairs(self.anchors))
        _check_input_size(self.input_size)

    @property
    def num_anchors(self) -> int:
        return len(self.anchors)

    @property
    def stride(self) -> int:
        return 32

    @property
    def output_size(self) -> tuple[int, int]:
        return (self.input_size[0] // self.stride, self.input_size[1] // self.stride)

    @staticmethod
    def _anchor_pairs(anchors: Any) -> tuple[tuple[float, float], ...]:
        try:
            pairs = tuple((float(w), float(h)) for w, h in anchors)
        except (TypeError, ValueError):
            raise ValueError(f"anchors must be (width, height) pairs in grid cells, got {anchors!r}") from None
        if not pairs or any(not 0 < v < float("inf") for pair in pairs for v in pair):
            raise ValueError(f"anchors must be one or more (width, height) pairs of positive sizes, got {anchors!r}")
        return pairs


ModelConfig = AMMAConfig | AStarConfig


def config_to_dict(config: ModelConfig) -> dict[str, Any]:
    """A JSON-ready dict that `config_from_dict` turns back into the same configuration."""
    return dataclasses.asdict(config)


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    data = dict(data)
    family = data.pop("family", "amma")
    cls = {"amma": AMMAConfig, "astar": AStarConfig}.get(family)
    if cls is None:
        raise ValueError(f"unknown model family {family!r}: expected 'amma' or 'astar'")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {family} configuration fields {sorted(unknown)}; known: {sorted(names)}")
    for key, value in data.items():
        if isinstance(value, list):
            data[key] = tuple(value)
    return cls(**data)


def _check_choice(field_name: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{field_name} must be one of {', '.join(str(c) for c in choices)}; got {value!r}")


def _check_positive(config: object, names: tuple[str, ...]) -> None:
    for n in names:
        if getattr(config, n) <= 0:
            raise ValueError(f"{n} must be positive, got {getattr(config, n)}")


def _check_input_size(size: tuple[int, int]) -> None:
    if len(size) != 2 or any(int(s) != s or s <= 0 or s % 32 for s in size):
        raise ValueError(f"input_size must be (height, width) with both multiples of 32, got {size}")
