"""Helpers of the build tests: a tiny AMMA checkpoint and export (as `tests/export/export_fixtures.py` makes
them), a copy of an export relabelled as another precision, and a compiler double that writes non-TensorRT
bytes so the stage's checking and file handling run without a GPU."""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

from amma_edge.build.compiler import CompiledEngine
from amma_edge.export.metadata import ModelMetadata
from amma_edge.models import build, get_config
from amma_edge.models.config import config_to_dict
from amma_edge.train.checkpoint import save_checkpoint

CLASSES = ("walk", "wave", "sit_down")


def tiny_amma_config():
    return get_config("amma-s", num_classes=len(CLASSES), input_size=(32, 64), width=0.5, feature_dim=32, head_conv=32,
                      box_head_conv=16)


def save_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    config = tiny_amma_config()
    model = build(config).eval()
    for m in model.modules():  # non-trivial batch-norm statistics, so normalisation shows in the outputs
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return save_checkpoint(path, {"model_config": config_to_dict(config), "class_names": list(CLASSES),
                                  "model": model.state_dict(), "metrics": {}})


def relabelled_copy(folder: Path, out: Path, precision: str) -> Path:
    """A copy of an export whose graphs say `precision` (the calibrate stage writes such folders with Q/DQ
    graphs; here only the metadata changes, which is all the build's checks read)."""
    import onnx

    from amma_edge.export.metadata import read_metadata, write_metadata

    shutil.copytree(folder, out)
    for path in out.glob("*.onnx"):
        model = onnx.load(str(path))
        write_metadata(model, read_metadata(model).replace(precision=precision))
        onnx.save(model, str(path))
    return out


class RecordingCompiler:
    """Stands in for TensorRT: returns the bytes b"test-plan:<graph>" as the plan, optionally fails on one
    graph, and records what the builder asked of it."""

    name = "test"

    def __init__(self, fail_on: str | None = None, finish_result: dict | None = None):
        self.fail_on = fail_on
        self.finish_result = finish_result
        self.compiled: list[tuple[str, Path]] = []
        self.finished = self.closed = False

    def metadata(self, graph: str, source: ModelMetadata) -> ModelMetadata:
        return source

    def compile(self, graph: str, source: Path, meta: ModelMetadata) -> CompiledEngine:
        from amma_edge.errors import AmmaEdgeError

        if graph == self.fail_on:
            raise AmmaEdgeError(f"TensorRT could not build the {graph} engine (test)")
        self.compiled.append((graph, source))
        details = {"builder": self.name, "tensorrt_version": "0.0-test", "device": {"name": "test GPU",
                   "compute_capability": "8.7", "integrated": True}, "flags": ["FP16"], "strongly_typed": False,
                   "build_seconds": 0.25}
        return CompiledEngine(f"test-plan:{graph}".encode(), details)

    def finish(self):
        self.finished = True
        return self.finish_result

    def close(self) -> None:
        self.closed = True
