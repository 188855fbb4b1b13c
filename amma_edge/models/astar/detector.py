"""A*: one pass over a window of past frames → YOLO detections of the actions at its last (key) frame.

    clips (B, T, 3, H, W) ─► permute ─► X3D backbone (B, 3, T, H, W)
      ├─ stage 2: VF2 (B, C2, T, H/8, W/8) ──┐  LLFA: each level → [key-frame slice | ASTPP, mean over T],
      └─ stage 4: VF4 (B, C4, T, h, w) ──────┴─ VF2's level strided down to (h, w) ─► L (B, 2·C2 + 2·C4, h, w)
    L ─► IVFF (reduce + self-attention) ─► F (B, C_head, h, w) ─► 1×1 convs ─► box, objectness, classes
    L ─────────────────────────────────────────────────────────► 1×1 conv ──► embedding

X3D-M at width 1: C2 = 48, C4 = 192, so LLFA has 480 channels; h × w = H/32 × W/32 (7 × 7 at 224²).
The real-time setting of the paper (§4.2, footnote 2): the window holds the key frame and the T − 1
frames before it, oldest first, and nothing after it.

Input
    `clips` float (B, T, 3, H, W), T = config.clip_len, RGB normalised with config.mean / config.std,
    H and W multiples of 32 (config.input_size is what the preset is built and measured for; other
    multiples of 32 work, as the head is convolutional and the anchors are in grid cells).

Output: a dict of four tensors, in this order (ONNX outputs follow the same order), with A anchors
(config.anchors), C = config.num_classes, D = config.embedding_dim and (h, w) = (H/32, W/32):
    "box"         (B, A, 4, h, w)  raw (tx, ty, tw, th) per anchor a at cell (row i, column j)
    "objectness"  (B, A, h, w)     logit of "an actor is centred here and this anchor fits it"
    "classes"     (B, A, C, h, w)  class logits (softmax-free: sigmoid for multi-label, or focal loss)
    "embedding"   (B, A, D, h, w)  action embedding for the proxy-anchor loss, not L2-normalised

Box decoding (YOWO's / YOLOv2's parameterisation, the one `amma_edge.data.targets.astar_targets` encodes),
with (anchor_w, anchor_h) = config.anchors[a] in grid cells and stride 32:
    centre x = (j + sigmoid(tx)) · 32,   centre y = (i + sigmoid(ty)) · 32          (input pixels)
    width    = anchor_w · exp(tw) · 32,  height   = anchor_h · exp(th) · 32
The same anchors are on the model as the non-persistent buffer `anchors` (A, 2).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from amma_edge.errors import InputShapeError
from amma_edge.models.astar.head import AnchorHead
from amma_edge.models.astar.ivff import IVFF
from amma_edge.models.astar.llfa import LLFA
from amma_edge.models.backbones.x3d import BUILDERS
from amma_edge.models.config import AStarConfig

# Backbone stages the paper aggregates (Table 5: VF2 + VF4 is best) and their strides in X3D.
LOW_STAGE, HIGH_STAGE = 2, 4
STRIDES = {LOW_STAGE: 8, HIGH_STAGE: 32}


class AStar(nn.Module):
    anchors: Tensor

    def __init__(self, config: AStarConfig):
        super().__init__()
        self.config = config
        self.backbone = BUILDERS[config.backbone](include_head=False, width=config.width)
        low, high = self.backbone.stage_channels[LOW_STAGE - 1], self.backbone.stage_channels[HIGH_STAGE - 1]
        self.llfa = LLFA(low, high, config.astpp_rates, stride_ratio=STRIDES[HIGH_STAGE] // STRIDES[LOW_STAGE])
        self.ivff = IVFF(self.llfa.out_channels, config.head_channels)
        self.head = AnchorHead(
            in_channels=config.head_channels,
            embedding_in_channels=self.llfa.out_channels,
            num_anchors=config.num_anchors,
            num_classes=config.num_classes,
            embedding_dim=config.embedding_dim,
        )
        _init_neck(self.llfa, self.ivff)
        self.register_buffer("anchors", torch.tensor(config.anchors, dtype=torch.float32), persistent=False)

    @property
    def stride(self) -> int:
        return STRIDES[HIGH_STAGE]

    def forward(self, clips: Tensor) -> dict[str, Tensor]:
        """Window of frames (B, T, 3, H, W), oldest first, key frame last → box, objectness, classes, embedding."""
        self._check_clips(clips)
        vf2, vf4 = self.backbone.forward_stages(clips.permute(0, 2, 1, 3, 4), (LOW_STAGE, HIGH_STAGE))
        llfa = self.llfa(vf2, vf4)
        return self.head(self.ivff(llfa), llfa)

    def _check_clips(self, x: Tensor) -> None:
        if torch.jit.is_tracing():  # an exporter traces one known-good input; shape checks would only warn there
            return
        c = self.config
        h, w = c.input_size
        problem = None
        if x.dim() != 5:
            problem = f"{x.dim()} dimensions instead of 5"
        elif x.shape[1] != c.clip_len:
            problem = f"{x.shape[1]} frames instead of T={c.clip_len}"
        elif x.shape[2] != 3:
            problem = f"{x.shape[2]} channels instead of 3 (RGB)"
        elif x.shape[-2] % 32 or x.shape[-1] % 32 or x.shape[-2] == 0 or x.shape[-1] == 0:
            problem = f"a frame size of {x.shape[-2]}×{x.shape[-1]}, which is not a multiple of 32"
        if problem:
            raise InputShapeError(
                f"A* ({c.name}) expects clips of shape (B, {c.clip_len}, 3, {h}, {w}): (batch, T={c.clip_len} frames "
                f"oldest first, 3 RGB channels, H, W) with H and W multiples of 32; got {tuple(x.shape)}: {problem}"
            )


def _init_neck(*modules: nn.Module) -> None:
    """He-normal convolutions and identity batch norms, the start the X3D backbone itself is given."""
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
