"""Helpers of the bench tests: a tiny AMMA checkpoint (32×64 input) exported by the real export stage, a
tiny synthetic dataset of the same classes, a copy of an export relabelled as another precision, and a
compiler double for the engine cache (TensorRT cannot run here)."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

from amma_edge.models import build, get_config
from amma_edge.models.config import config_to_dict
from amma_edge.train.checkpoint import save_checkpoint

CLASSES = ("walk", "wave", "sit_down")


def tiny_config(**overrides):
    settings = dict(num_classes=len(CLASSES), input_size=(32, 64), width=0.5, feature_dim=32, head_conv=32,
                    box_head_conv=16)
    settings.update(overrides)
    return get_config("amma-s", **settings)


def save_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    config = tiny_config()
    model = build(config).eval()
    return save_checkpoint(path, {"model_config": config_to_dict(config), "class_names": list(CLASSES),
                                  "model": model.state_dict(), "metrics": {}})


def export_tiny(checkpoint: Path, out: Path) -> Path:
    from amma_edge.export.exporter import ExportOptions, export_model

    return export_model(checkpoint, out, ExportOptions(simplify=False, random_samples=1)).out


def relabelled_copy(folder: Path, out: Path, precision: str) -> Path:
    """A copy of an export whose graphs say `precision`: what the bench's folder checks read (the graphs
    themselves stay fp32, so no figure measured on it means anything about INT8)."""
    import onnx

    from amma_edge.export.metadata import read_metadata, write_metadata

    shutil.copytree(folder, out)
    for path in out.glob("*.onnx"):
        model = onnx.load(str(path))
        write_metadata(model, read_metadata(model).replace(precision=precision))
        onnx.save(model, str(path))
    return out


class PlanCompiler:
    """Stands in for TensorRT in the build stage: the plan is b"plan:<graph>"; records what it built."""

    name = "test"

    def __init__(self) -> None:
        self.compiled: list[str] = []

    def metadata(self, graph, source):
        return source

    def compile(self, graph, source, meta):
        from amma_edge.build.compiler import CompiledEngine

        self.compiled.append(graph)
        details = {"builder": self.name, "tensorrt_version": "0.0-test", "device": {"name": "test GPU"},
                   "flags": [], "strongly_typed": False, "build_seconds": 0.0}
        return CompiledEngine(f"plan:{graph}".encode(), details)

    def finish(self):
        return None

    def close(self):
        pass
