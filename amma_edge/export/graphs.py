"""The graphs a model is exported as, their tensor names and shapes, and the modules that compute them.

This is the export contract in code (HELPER_CONTEXT / DESIGN): AMMA splits into `encoder` (one clip → one
feature) and `head` (K cached features → maps), because streaming runs the encoder once per new clip and
reads the K − 1 older features from a cache; `fused` (K clips → maps) is the offline whole-model graph.
A* is one graph, `astar`, stored as model.onnx. Shapes are static, with the batch size chosen at export.

No torch here: the device runtime reads the contract too. The modules that compute the graphs are in
`graph_modules`.
"""
from __future__ import annotations

from dataclasses import dataclass

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig

GRAPH_FILES = {"encoder": "encoder.onnx", "head": "head.onnx", "fused": "fused.onnx", "astar": "model.onnx"}
AMMA_OUTPUTS = ("center", "trajectory", "box")
ASTAR_OUTPUTS = ("box", "objectness", "classes", "embedding")


@dataclass(frozen=True)
class GraphSpec:
    """One graph of the contract: input and output names with their shapes (in order) and what outputs mean."""

    name: str
    inputs: dict[str, tuple[int, ...]]
    outputs: dict[str, tuple[int, ...]]
    output_layout: dict[str, str]

    @property
    def file_name(self) -> str:
        return GRAPH_FILES[self.name]

    @property
    def input_name(self) -> str:
        return next(iter(self.inputs))


def graph_names(config: ModelConfig, fused: bool = False) -> tuple[str, ...]:
    """The graphs an export of `config` writes."""
    if isinstance(config, AMMAConfig):
        return ("encoder", "head", "fused") if fused else ("encoder", "head")
    if isinstance(config, AStarConfig):
        return ("astar",)
    raise AmmaEdgeError(f"no export for model family {getattr(config, 'family', '?')!r}")


def graph_spec(config: ModelConfig, graph: str, batch: int = 1) -> GraphSpec:
    """Names, shapes and output meanings of `graph` of `config` at batch size `batch`."""
    if batch < 1:
        raise AmmaEdgeError(f"the batch size must be at least 1, got {batch}")
    H, W = config.input_size
    h, w = config.output_size
    if isinstance(config, AMMAConfig):
        c, K, C, t = config.feature_dim // 4, config.K, config.num_classes, config.t
        maps = {"center": (batch, C, h, w), "trajectory": (batch, 2 * K, h, w), "box": (batch, 2 * K, h, w)}
        layout = {
            "center": f"(batch, C={C}, h, w) sigmoid score per class that an action's center at the key frame "
                      f"(last frame of clip K) lies in this cell of the stride-{config.stride} grid",
            "trajectory": f"(batch, 2K={2 * K}, h, w) (dx_k, dy_k) for clips k = 1..K, oldest first: the action "
                          "center at the last frame of clip k minus the key-frame center, in grid cells",
            "box": f"(batch, 2K={2 * K}, h, w) (w_k, h_k) for clips k = 1..K, oldest first: box size at the last "
                   "frame of clip k, in grid cells",
        }
        specs = {
            "encoder": ({"clip": (batch, t, 3, H, W)}, {"feature": (batch, c, h, w)},
                        {"feature": f"(batch, c={c}, h, w) feature of one clip; the head takes K of them stacked, "
                                    "oldest first"}),
            "head": ({"features": (batch, K, c, h, w)}, maps, layout),
            "fused": ({"clips": (batch, K, t, 3, H, W)}, maps, layout),
        }
    elif isinstance(config, AStarConfig):
        A, C, D, T = config.num_anchors, config.num_classes, config.embedding_dim, config.clip_len
        s = config.stride
        specs = {"astar": (
            {"clip": (batch, T, 3, H, W)},
            {"box": (batch, A, 4, h, w), "objectness": (batch, A, h, w), "classes": (batch, A, C, h, w),
             "embedding": (batch, A, D, h, w)},
            {"box": f"(batch, A={A}, 4, h, w) raw (tx, ty, tw, th) per anchor and cell (row i, column j): "
                    f"cx = (j + sigmoid(tx))·{s}, cy = (i + sigmoid(ty))·{s}, w = anchor_w·exp(tw)·{s}, "
                    f"h = anchor_h·exp(th)·{s} input pixels, anchors from model_config",
             "objectness": f"(batch, A={A}, h, w) logit that an actor is centred in the cell and fits the anchor",
             "classes": f"(batch, A={A}, C={C}, h, w) class logits",
             "embedding": f"(batch, A={A}, D={D}, h, w) action embedding, not L2-normalised"},
        )}
    else:
        raise AmmaEdgeError(f"no export for model family {getattr(config, 'family', '?')!r}")
    if graph not in specs:
        raise AmmaEdgeError(f"a {config.family} model has the graphs {', '.join(specs)}, not {graph!r}")
    inputs, outputs, layout = specs[graph]
    return GraphSpec(graph, inputs, outputs, layout)
