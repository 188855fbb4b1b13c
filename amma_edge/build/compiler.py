"""The contract between the builder and what turns one graph into a TensorRT plan.

Two compilers exist: TensorRT's ONNX parser (`tensorrt_build`, the default) and Torch-TensorRT from the
training checkpoint (`torch_trt`). The builder owns checking, headers and writing files; a compiler only
makes plans, so both paths write the same engine files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from amma_edge.export.metadata import ModelMetadata


@dataclass(frozen=True)
class CompiledEngine:
    plan: bytes  # the serialized TensorRT engine
    details: dict[str, Any] = field(default_factory=dict)  # header.REQUIRED_DETAILS and whatever else it measured


class EngineCompiler(Protocol):
    name: str

    def metadata(self, graph: str, source: ModelMetadata) -> ModelMetadata:
        """The metadata of the engine of `graph`, given that of its ONNX graph."""

    def compile(self, graph: str, source: Path, meta: ModelMetadata) -> CompiledEngine:
        """Build the engine of `graph` (ONNX file `source`, metadata `meta`); AmmaEdgeError when it cannot."""

    def finish(self) -> dict[str, Any] | None:
        """Called once after every graph was built: save what outlives the build (the timing cache) and say
        what was saved, or None."""

    def close(self) -> None:
        """Free what the compiler holds and remove its temporary files; called after every build, also a
        failed one."""
