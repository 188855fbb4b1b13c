"""What a model file says about itself: graph, model configuration, class names, tensor shapes, precision.

The export stage writes this JSON into every ONNX file (`metadata_props["amma_edge"]`) and the build stage
into the header of every TensorRT plan, so a model file alone is enough to run (DESIGN.md). This is the
runtime's reader of it, which needs neither `onnx` nor the export package.

Note for the lead: once `amma_edge/export/metadata.py` lands, `parse_model_info` should delegate to its
`ModelMetadata.from_json` (and the ORT runner to `read_metadata_ort`), keeping this `ModelInfo` as the view
the runtime needs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig, config_from_dict

METADATA_KEY = "amma_edge"
GRAPHS = ("encoder", "head", "fused", "astar")


@dataclass(frozen=True)
class ModelInfo:
    graph: str
    config: ModelConfig
    class_names: tuple[str, ...]
    inputs: dict[str, tuple[int, ...]] = field(default_factory=dict)
    outputs: dict[str, tuple[int, ...]] = field(default_factory=dict)
    precision: str = "fp32"
    checkpoint_sha256: str = ""

    @property
    def family(self) -> str:
        return self.config.family


def _reexport_hint(source: str) -> str:
    return (f"{source} carries no amma-edge metadata, so it was not exported by amma-edge (or was re-saved by a tool "
            "that dropped it): export it again with `amma-edge export --checkpoint best.pt`")


def parse_model_info(text: str | None, source: str) -> ModelInfo:
    """The metadata JSON of `source` as a ModelInfo; an AmmaEdgeError that says how to fix a missing or bad one."""
    if not text:
        raise AmmaEdgeError(_reexport_hint(source))
    try:
        data: dict[str, Any] = json.loads(text)
        graph = str(data["graph"])
        config = config_from_dict(data["model_config"])
        names = tuple(str(n) for n in data.get("class_names") or ())
    except (ValueError, KeyError, TypeError) as exc:
        raise AmmaEdgeError(f"the amma-edge metadata of {source} is unreadable ({exc}): export the model again") from exc
    if graph not in GRAPHS:
        raise AmmaEdgeError(f"{source} holds an unknown graph {graph!r} (expected one of {', '.join(GRAPHS)}): "
                            "it was exported by a newer amma-edge; upgrade")
    if not isinstance(config, (AMMAConfig, AStarConfig)):
        raise AmmaEdgeError(f"{source}: no runtime for model family {getattr(config, 'family', '?')!r}")
    if not names:
        names = tuple(str(i) for i in range(config.num_classes))
    if len(names) != config.num_classes:
        raise AmmaEdgeError(f"{source} names {len(names)} classes for a model with {config.num_classes}: export it again")

    def shapes(key: str) -> dict[str, tuple[int, ...]]:
        return {str(k): tuple(int(d) for d in v) for k, v in (data.get(key) or {}).items()}

    return ModelInfo(graph, config, names, shapes("inputs"), shapes("outputs"), str(data.get("precision", "fp32")),
                     str(data.get("checkpoint_sha256", "")))
