"""Helpers for the runtime's tests: a tiny AMMA checkpoint (64×64) and its ONNX export (encoder + head with
amma-edge metadata, as the export stage writes them), and a small mp4 written with cv2.VideoWriter."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from amma_edge.models import build, get_config
from amma_edge.models.config import config_to_dict
from amma_edge.train.checkpoint import save_checkpoint

CLASSES = ("walk", "wave", "sit_down")


def tiny_amma_config():
    return get_config("amma-s", num_classes=len(CLASSES), input_size=(64, 64), width=0.5, feature_dim=32,
                      head_conv=32, box_head_conv=16)


def save_tiny_checkpoint(path: Path, config=None, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    config = config or tiny_amma_config()
    model = build(config).eval()
    return save_checkpoint(path, {"model_config": config_to_dict(config), "class_names": list(config_names(config)),
                                  "model": model.state_dict(), "metrics": {}})


def config_names(config) -> tuple[str, ...]:
    return CLASSES if config.num_classes == len(CLASSES) else tuple(f"c{i}" for i in range(config.num_classes))


class _Graph(torch.nn.Module):
    def __init__(self, model, graph: str):
        super().__init__()
        self.model, self.graph = model, graph

    def forward(self, x):
        out = self.model.encode(x) if self.graph == "encoder" else self.model.head(x)
        return tuple(out[k] for k in ("center", "trajectory", "box")) if isinstance(out, dict) else out


def export_amma(checkpoint: Path, out: Path) -> Path:
    """encoder.onnx + head.onnx with the amma-edge metadata, as the export stage writes them."""
    import onnx

    from amma_edge.runtime.runners.torch_runner import graph_shapes, load_checkpoint_model

    model, config, names = load_checkpoint_model(checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    for graph in ("encoder", "head"):
        inputs, outputs = graph_shapes(config, graph)
        wrapper = _Graph(model, graph).eval()  # a fresh module is in training mode: the exporter would restore that
        path = out / f"{graph}.onnx"
        example = torch.zeros(next(iter(inputs.values())))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (example,), str(path), input_names=list(inputs), output_names=list(outputs),
                              opset_version=17, dynamo=False)
        proto = onnx.load(str(path))
        meta = {"format": 1, "graph": graph, "model_config": config_to_dict(config), "class_names": list(names),
                "inputs": {k: list(v) for k, v in inputs.items()}, "outputs": {k: list(v) for k, v in outputs.items()},
                "output_layout": {}, "opset": 17, "precision": "fp32", "checkpoint_sha256": "test",
                "amma_edge_version": "test"}
        entry = proto.metadata_props.add()
        entry.key, entry.value = "amma_edge", json.dumps(meta)
        onnx.save(proto, str(path))
    return out


def write_video(path: Path, frames: int = 20, size: tuple[int, int] = (80, 64), fps: float = 25.0) -> Path:
    """A small mp4 of moving blocks (cv2.VideoWriter, mp4v)."""
    import cv2

    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    for i in range(frames):
        image = background.copy()
        cv2.rectangle(image, (2 + i, 10), (22 + i, 40), (0, 0, 255), -1)
        writer.write(image)
    writer.release()
    return path
