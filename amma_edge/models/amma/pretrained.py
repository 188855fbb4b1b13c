"""Starting AMMA from ImageNet weights of its backbone, read from a file the user names."""
from __future__ import annotations

import os

from amma_edge.models.amma.detector import AMMA
from amma_edge.models.backbones.pretrained import load_pretrained, read_state_dict


def load_backbone_weights(model: AMMA, path: str | os.PathLike, *, prefix: str = "") -> int:
    """Load a torchvision-layout backbone state dict into both streams; returns the motion tensors loaded.

    The appearance stream must match the file exactly (strict: a wrong file is an error, not a silent
    partial load). The motion stream is a truncated copy of the same network, so it takes every tensor it
    has with the same name and shape; its first convolution differs when t != 4 and keeps its random start.
    """
    backbone = model.encoder.backbone
    load_pretrained(backbone.appearance, path, prefix=prefix)
    if backbone.motion is None:
        return 0
    state = backbone.appearance.state_dict()  # already checked and loaded: reuse rather than re-read
    own = backbone.motion.state_dict()
    shared = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    backbone.motion.load_state_dict(shared, strict=False)
    return len(shared)


__all__ = ["load_backbone_weights", "read_state_dict"]
