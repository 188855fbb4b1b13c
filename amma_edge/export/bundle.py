"""An exported model folder as one checked object: which graphs it has, their files and their metadata.

`load_bundle(dir)` refuses folders whose files do not belong together, because a mismatch does not fail
loudly at run time: an encoder exported from one checkpoint feeds features the head of another checkpoint
reads as noise, and the detector just silently finds nothing. So every graph must carry amma-edge metadata,
hold the graph its file name says, come from the same checkpoint (SHA-256), configuration and class names,
and have the tensor shapes its configuration implies (the encoder's feature is what the head stacks K of).

It reads metadata without the `onnx` package and without TensorRT (engine headers are plain JSON), so the
device runtime can use it. `kind="engine"` checks the `<graph>.engine` files `amma-edge build` writes.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amma_edge.errors import AmmaEdgeError
from amma_edge.export.graphs import GRAPH_FILES, graph_spec
from amma_edge.export.metadata import ModelMetadata, read_metadata
from amma_edge.models.config import AMMAConfig, ModelConfig

MODEL_JSON = "model.json"
BUNDLE_KINDS = ("onnx", "engine")
_EXPORT_HINT = "export it again with `amma-edge export --model CHECKPOINT.pt --out DIR`"


def graph_file_name(graph: str, kind: str = "onnx") -> str:
    """encoder.onnx / encoder.engine, ..., and model.onnx / model.engine for A*."""
    stem = Path(GRAPH_FILES[graph]).stem
    return f"{stem}.{kind}"


class GraphsMetadata:
    """The model that graphs belonging together describe, read from their metadata (which `load_bundle` and
    `open_model` have checked to agree, so the first graph's speaks for all). Shared by the export folder and
    the open device model."""

    metadata: dict[str, ModelMetadata]  # graph → what its file says

    @property
    def first(self) -> ModelMetadata:
        return next(iter(self.metadata.values()))

    @property
    def config(self) -> ModelConfig:
        return self.first.model_config

    @property
    def family(self) -> str:
        return self.config.family

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.first.class_names

    @property
    def checkpoint_sha256(self) -> str:
        return self.first.checkpoint_sha256


@dataclass(frozen=True)
class ModelBundle(GraphsMetadata):
    root: Path
    kind: str  # "onnx" or "engine"
    graphs: dict[str, Path]  # graph name → file, in contract order
    metadata: dict[str, ModelMetadata]
    manifest: dict[str, Any] | None  # model.json, when present

    @property
    def batch(self) -> int:
        return next(iter(self.first.inputs.values()))[0]

    @property
    def streaming(self) -> bool:
        """Whether the graphs the streaming pipeline runs are here (encoder + head, or A*'s model)."""
        return {"encoder", "head"} <= set(self.graphs) or "astar" in self.graphs

    def path(self, graph: str) -> Path:
        if graph not in self.graphs:
            raise AmmaEdgeError(f"{self.root} has no {graph} graph (it has {', '.join(self.graphs)})")
        return self.graphs[graph]

    def golden(self, graph: str) -> Path | None:
        from amma_edge.export.golden import golden_path

        path = golden_path(self.root, graph)
        return path if path.is_file() else None


def read_file_metadata(path: Path, kind: str) -> ModelMetadata:
    if kind == "onnx":
        return read_metadata(path)
    from amma_edge.build.plan import read_plan_header

    return ModelMetadata.from_dict(read_plan_header(path), str(path))


def load_bundle(folder: str | os.PathLike, kind: str = "onnx") -> ModelBundle:
    """The checked graphs of an export folder (`kind="onnx"`) or of the engines built from it (`"engine"`)."""
    if kind not in BUNDLE_KINDS:
        raise ValueError(f"kind must be one of {BUNDLE_KINDS}, got {kind!r}")
    root = Path(folder)
    if not root.exists():
        raise AmmaEdgeError(f"model folder {root} does not exist: pass a folder written by `amma-edge export`")
    if not root.is_dir():
        raise AmmaEdgeError(f"{root} is a file, not a model folder: pass the folder that holds it ({root.parent})")
    manifest = _read_manifest(root)
    present = {g: root / graph_file_name(g, kind) for g in GRAPH_FILES if (root / graph_file_name(g, kind)).is_file()}
    if manifest is not None and kind == "onnx":
        listed = manifest.get("graphs") or {}
        missing = [f"{g} ({graph_file_name(g)})" for g in listed if g in GRAPH_FILES and g not in present]
        if missing:
            raise AmmaEdgeError(f"{root}/{MODEL_JSON} lists graphs whose files are missing: {', '.join(missing)}; "
                                f"the folder is incomplete: {_EXPORT_HINT}")
    if not present:
        wanted = " + ".join(graph_file_name(g, kind) for g in ("encoder", "head"))
        raise AmmaEdgeError(f"{root} holds no {'exported graphs' if kind == 'onnx' else 'engines'}: expected "
                            f"{wanted} (AMMA) or {graph_file_name('astar', kind)} (A*)"
                            + (f"; {_EXPORT_HINT}" if kind == "onnx" else "; build them with `amma-edge build`"))
    metadata = {g: read_file_metadata(p, kind) for g, p in present.items()}
    _check_graph_names(present, metadata)
    _check_same_model(present, metadata, manifest, root)
    _check_complete(present, metadata, root, kind)
    _check_shapes(present, metadata)
    return ModelBundle(root, kind, present, metadata, manifest)


def _read_manifest(root: Path) -> dict[str, Any] | None:
    path = root / MODEL_JSON
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AmmaEdgeError(f"{path} is unreadable ({exc}): {_EXPORT_HINT}") from exc
    if not isinstance(data, dict):
        raise AmmaEdgeError(f"{path} is not a JSON object: {_EXPORT_HINT}")
    return data


def _check_graph_names(present: dict[str, Path], metadata: dict[str, ModelMetadata]) -> None:
    for graph, meta in metadata.items():
        if meta.graph != graph:
            raise AmmaEdgeError(f"{present[graph]} holds the {meta.graph} graph, not the {graph} graph its name "
                                f"says: it was renamed or copied from another export; {_EXPORT_HINT}")


def _check_same_model(present: dict[str, Path], metadata: dict[str, ModelMetadata], manifest: dict[str, Any] | None,
                      root: Path) -> None:
    graphs = list(metadata)
    first = metadata[graphs[0]]
    for graph in graphs[1:]:
        meta = metadata[graph]
        problems = []
        if meta.family != first.family:
            problems.append(f"one is {first.family}, the other {meta.family}")
        elif meta.model_config != first.model_config:
            differing = sorted(k for k, v in vars(meta.model_config).items() if vars(first.model_config).get(k) != v)
            problems.append(f"their model configurations differ in {', '.join(differing)}")
        if meta.class_names != first.class_names:
            problems.append("their class names differ")
        if meta.checkpoint_sha256 != first.checkpoint_sha256:
            problems.append(f"they come from different checkpoints (sha256 {first.checkpoint_sha256[:12]}… and "
                            f"{meta.checkpoint_sha256[:12]}…)")
        if problems:
            raise AmmaEdgeError(f"{present[graphs[0]].name} and {present[graph].name} in {root} do not belong "
                                f"together: {'; '.join(problems)}. Export all graphs from one checkpoint into one "
                                f"folder: {_EXPORT_HINT}")
    if manifest is not None and manifest.get("checkpoint_sha256") not in (None, first.checkpoint_sha256):
        raise AmmaEdgeError(f"{root}/{MODEL_JSON} describes another checkpoint than the graphs beside it "
                            f"(sha256 {str(manifest['checkpoint_sha256'])[:12]}… against "
                            f"{first.checkpoint_sha256[:12]}…): {_EXPORT_HINT}")


def _check_complete(present: dict[str, Path], metadata: dict[str, ModelMetadata], root: Path, kind: str) -> None:
    config = next(iter(metadata.values())).model_config
    if isinstance(config, AMMAConfig):
        have = set(present)
        if "astar" in have:
            raise AmmaEdgeError(f"{root} mixes an A* {graph_file_name('astar', kind)} with AMMA graphs: one model per "
                                "folder")
        for one, other in (("encoder", "head"), ("head", "encoder")):
            if one in have and other not in have:
                raise AmmaEdgeError(f"{root} has {graph_file_name(one, kind)} but no {graph_file_name(other, kind)}: "
                                    "streaming runs the encoder and the head together; "
                                    + (_EXPORT_HINT if kind == "onnx" else "build both with `amma-edge build`"))


def _check_shapes(present: dict[str, Path], metadata: dict[str, ModelMetadata]) -> None:
    batches = {}
    for graph, meta in metadata.items():
        batch = next(iter(meta.inputs.values()))[0] if meta.inputs else 1
        spec = graph_spec(meta.model_config, graph, batch)
        if meta.inputs != spec.inputs or meta.outputs != spec.outputs:
            raise AmmaEdgeError(f"{present[graph]} declares inputs {meta.inputs} and outputs {meta.outputs}, but its "
                                f"configuration (K={getattr(meta.model_config, 'K', '-')}, input size "
                                f"{meta.model_config.input_size}) implies {spec.inputs} and {spec.outputs}: "
                                f"{_EXPORT_HINT}")
        batches[graph] = batch
    if len(set(batches.values())) > 1:
        raise AmmaEdgeError(f"the graphs were exported with different batch sizes ({batches}): {_EXPORT_HINT}")
