"""AMMA: an online tubelet detector built from a per-clip encoder and a head over K clip features.

    clip k (B, t, 3, H, W) ─► micro-motion ─► motion stream ──┐ lateral fusion ×3
                          └─► last frame ─► appearance stream ┴─► decoder ─► 1×1 reduce ─► feature_k (B, D/4, H/R, W/R)
    [feature_1 … feature_K] ─► TubeletHead ─► center, trajectory, box

The split between `encode(clip)` and `head(features)` is the streaming contract (§3.4): on a live stream each new clip costs
one `encode`; the K − 1 older features come from a cache, and `head` runs once over the K newest.
`forward` over K clips is exactly `head` over K separate `encode` calls.

The head's 1×1 channel reduction (D → D/4) acts on each clip on its own, so it is part of the encoder here:
the result is identical to the published layout, each clip is reduced once instead of K times, and the
feature cache holds 4× less data.

Sizes against the paper's Table 3 (JHMDB-21 setting: K = 5, 21 classes, 288×288, t = 4), measured by
`tests/models/test_amma.py` with `amma_edge.models.complexity`:

    model      params (paper)      GMACs/clip (K·E+H)/K (paper)
    AMMA-R18   15.63 M (15.8)      5.32 (5.2)
    AMMA-M      6.70 M (6.8)       1.42 (1.3)
    AMMA-S      5.82 M (6.0)       1.11 (1.0)

The parameter deficit is the deformable convolution's offset branch (a 3×3 convolution from 512 to 27
channels, 0.12 M) that the plain convolution does not have, and, for AMMA-M, four motion-stream blocks the
authors' code builds but never runs. The MAC surplus is the decoder's 3×3 convolution: the authors' is a
deformable convolution (a DCNv2 extension op), which their counter (ptflops) does not see; in plain form it
costs 512·256·9·81 = 0.096 GMACs at 288×288. Without it our counts are 5.23 / 1.32 / 1.02, the paper's figures.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from amma_edge.errors import InputShapeError
from amma_edge.models.amma.decoder import ChannelReducer, Decoder, SkipDecoder
from amma_edge.models.amma.fusion import TwoStreamBackbone
from amma_edge.models.amma.head import TubeletHead
from amma_edge.models.amma.micro_motion import MicroMotion
from amma_edge.models.config import AMMAConfig

# Published AMMA feeds the decoder 512 channels whatever the backbone (mobile backbones are reduced to it).
DECODER_INPUT_CHANNELS = 512


class ClipEncoder(nn.Module):
    """One clip of t frames (B, t, 3, H, W) → its feature (B, D/4, H/R, W/R), R the output stride."""

    def __init__(self, config: AMMAConfig):
        super().__init__()
        self.micro_motion = None if config.micro_motion == "none" else MicroMotion(config.micro_motion)
        motion_channels = None if self.micro_motion is None else config.t - 1
        self.backbone = TwoStreamBackbone(config.backbone, config.width, motion_channels)
        channels = self.backbone.out_channels
        self.neck = ChannelReducer(channels, DECODER_INPUT_CHANNELS) if channels != DECODER_INPUT_CHANNELS else nn.Identity()
        self.skip_strides: dict[int, int] = {}  # stride → index of the backbone segment whose output is added
        if config.decoder == "skip":
            shapes = self.backbone.segment_shapes()
            # The last segment ending at each stride: for ResNet-18 the stride-16 map lies inside a segment
            # (layer3 + layer4), so only its stride-8 output is taken.
            wanted = (16, 8) if config.output_stride == 8 else (16, 8, 4)
            self.skip_strides = {stride: i for i, (_, stride) in enumerate(shapes[:-1]) if stride in wanted}
            self.decoder = SkipDecoder(DECODER_INPUT_CHANNELS, config.feature_dim,
                                       {stride: shapes[i][0] for stride, i in self.skip_strides.items()},
                                       out_stride=config.output_stride)
        else:
            self.decoder = Decoder(DECODER_INPUT_CHANNELS, config.feature_dim)
        self.reduce = ChannelReducer(config.feature_dim, config.feature_dim // 4)

    def forward(self, clip: Tensor) -> Tensor:
        frame = clip[:, -1]
        motion = self.micro_motion(clip) if self.micro_motion is not None else None
        if not self.skip_strides:
            return self.reduce(self.decoder(self.neck(self.backbone(frame, motion))))
        outputs = self.backbone.segment_outputs(frame, motion)
        skips = {stride: outputs[i] for stride, i in self.skip_strides.items()}
        return self.reduce(self.decoder(self.neck(outputs[-1]), skips))


class AMMA(nn.Module):
    def __init__(self, config: AMMAConfig):
        super().__init__()
        self.config = config
        self.encoder = ClipEncoder(config)
        self.head = TubeletHead(
            in_channels=config.feature_dim // 4,
            K=config.K,
            num_classes=config.num_classes,
            head_conv=config.head_conv,
            box_head_conv=config.box_head_conv,
            center_depth=config.center_depth,
        )

    @property
    def feature_channels(self) -> int:
        return self.config.feature_dim // 4

    def encode(self, clip: Tensor) -> Tensor:
        """One clip per batch item, (B, t, 3, H, W) normalised → feature (B, D/4, H/R, W/R)."""
        self._check_clip(clip, leading=1)
        return self.encoder(clip)

    def forward(self, clips: Tensor, grad_clips: Sequence[int] | None = None) -> dict[str, Tensor]:
        """K clips per batch item, (B, K, t, 3, H, W), oldest first → center, trajectory and box maps.

        `grad_clips` (training only): indices of the clips the encoder learns through; the others are encoded
        without autograd, as fixed context for the head. The outputs are the same; a step then costs
        len(grad_clips) encoder backward passes instead of K, the encoder being most of a step's time, so the
        same minutes buy more updates (the way the streaming runtime reuses cached features, but in training).
        """
        self._check_clip(clips, leading=2)
        b, k = clips.shape[:2]
        if grad_clips is None or set(grad_clips) == set(range(k)):
            features = self.encoder(clips.reshape(b * k, *clips.shape[2:]))
            return self.head(features.reshape(b, k, *features.shape[1:]))
        return self.head(self._partly_detached_features(clips, grad_clips))

    def _partly_detached_features(self, clips: Tensor, grad_clips: Sequence[int]) -> Tensor:
        b, k = clips.shape[:2]
        learn = sorted({int(i) for i in grad_clips})
        if not learn or not all(0 <= i < k for i in learn):
            raise ValueError(f"grad_clips must name one or more of clips 0…{k - 1}, got {list(grad_clips)}")
        rest = [i for i in range(k) if i not in learn]

        def encode(indices: list[int]) -> Tensor:
            chosen = clips[:, indices]
            out = self.encoder(chosen.reshape(-1, *clips.shape[2:]))
            return out.reshape(b, len(indices), *out.shape[1:])

        learned = encode(learn)
        per_clip: dict[int, Tensor] = dict(zip(learn, learned.unbind(1)))
        if rest:
            with torch.no_grad():
                fixed = encode(rest).to(learned.dtype)
            per_clip.update(zip(rest, fixed.unbind(1)))
        return torch.stack([per_clip[i] for i in range(k)], dim=1)

    def _check_clip(self, x: Tensor, leading: int) -> None:
        c = self.config
        h, w = c.input_size
        lead = ("batch",) if leading == 1 else ("batch", f"K={c.K}")
        expected = f"({', '.join(lead)}, t={c.t}, 3, H, W)"
        problem = None
        if x.dim() != leading + 4:
            problem = f"{x.dim()} dimensions instead of {leading + 4}"
        elif leading == 2 and x.shape[1] != c.K:
            problem = f"{x.shape[1]} clips instead of K={c.K}"
        elif x.shape[leading] != c.t:
            problem = f"clips of {x.shape[leading]} frames instead of t={c.t}"
        elif x.shape[leading + 1] != 3:
            problem = f"{x.shape[leading + 1]} channels instead of 3 (RGB)"
        elif x.shape[-2] % 32 or x.shape[-1] % 32:
            problem = f"a frame size of {x.shape[-2]}×{x.shape[-1]}, which is not a multiple of 32"
        if problem:
            raise InputShapeError(
                f"AMMA ({c.name}) expects input of shape {expected} with H and W multiples of 32 "
                f"(built for {h}×{w}); got {tuple(x.shape)}: {problem}"
            )
