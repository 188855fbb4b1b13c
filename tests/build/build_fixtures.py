"""Helpers of the build tests: a tiny AMMA checkpoint and export (as `tests/export/export_fixtures.py` makes
them), a copy of an export relabelled as another precision, and a compiler double that writes non-TensorRT
bytes so the stage's checking and file handling run without a GPU."""
from __future__ import annotations

from pathlib import Path

from tiny_models import CLASSES, relabelled_copy, save_tiny_checkpoint, tiny_amma_config

from amma_edge.build.compiler import CompiledEngine
from amma_edge.export.metadata import ModelMetadata

__all__ = ["CLASSES", "relabelled_copy", "save_tiny_checkpoint", "tiny_amma_config"]


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
