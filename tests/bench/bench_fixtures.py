"""Helpers of the bench tests: a tiny AMMA checkpoint (32×64 input) exported by the real export stage, a
tiny synthetic dataset of the same classes, a copy of an export relabelled as another precision, and a
compiler double for the engine cache (TensorRT cannot run here)."""
from __future__ import annotations

from pathlib import Path

from tiny_models import CLASSES, relabelled_copy, save_tiny_checkpoint, tiny_amma_config

__all__ = ["CLASSES", "relabelled_copy", "save_tiny_checkpoint", "tiny_amma_config"]


def export_tiny(checkpoint: Path, out: Path) -> Path:
    from amma_edge.export.exporter import ExportOptions, export_model

    return export_model(checkpoint, out, ExportOptions(simplify=False, random_samples=1)).out


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
