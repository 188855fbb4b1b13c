"""YOLO-style anchored head on the stride-32 grid, plus the action embedding for the proxy-anchor loss.

    IVFF (B, C_head, h, w) ─┬─ 1×1 ─► box         (B, A, 4, h, w)  tx, ty, tw, th
                            ├─ 1×1 ─► objectness  (B, A, h, w)     logit
                            └─ 1×1 ─► classes     (B, A, C, h, w)  logits
    LLFA (B, C_llfa, h, w) ─── 1×1 ─► embedding   (B, A, D, h, w)  unnormalised

The embedding comes from the LLFA map, not the fused one, because the paper computes the action-PAL on
"additional features from the LLFA module" (§3). It is per anchor, like the class scores, so the loss can
take the embedding of exactly the anchor responsible for a box.

Objectness and class biases start at log(π / (1 − π)) with π = 0.01 (RetinaNet's prior, for the focal and
BCE losses of §3.4), so the first steps are not swamped by the many background cells.
"""
from __future__ import annotations

import math

from torch import Tensor, nn

PRIOR_PROBABILITY = 0.01


class AnchorHead(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int,
        embedding_in_channels: int,
        num_anchors: int,
        num_classes: int,
        embedding_dim: int,
    ):
        super().__init__()
        self.num_anchors = num_anchors
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim
        self.box = nn.Conv2d(in_channels, num_anchors * 4, 1)
        self.objectness = nn.Conv2d(in_channels, num_anchors, 1)
        self.classes = nn.Conv2d(in_channels, num_anchors * num_classes, 1)
        self.embedding = nn.Conv2d(embedding_in_channels, num_anchors * embedding_dim, 1)
        prior = math.log(PRIOR_PROBABILITY / (1 - PRIOR_PROBABILITY))
        for conv in (self.box, self.objectness, self.classes, self.embedding):
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)
        nn.init.constant_(self.objectness.bias, prior)
        nn.init.constant_(self.classes.bias, prior)

    def forward(self, fused: Tensor, llfa: Tensor) -> dict[str, Tensor]:
        b, _, h, w = fused.shape
        a = self.num_anchors
        # Channels are anchor-major (anchor 0's values, then anchor 1's, …); reshape with constant inner sizes,
        # which exports to ONNX as one Reshape whose batch and grid dimensions stay dynamic.
        return {
            "box": self.box(fused).reshape(b, a, 4, h, w),
            "objectness": self.objectness(fused),
            "classes": self.classes(fused).reshape(b, a, self.num_classes, h, w),
            "embedding": self.embedding(llfa).reshape(b, a, self.embedding_dim, h, w),
        }
