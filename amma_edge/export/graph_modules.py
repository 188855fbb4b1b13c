"""The PyTorch modules behind the exported graphs: each wraps a detector and returns the graph's outputs as a
tensor or a tuple in contract order (`amma_edge.export.graphs`), which is what the exporters trace."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from amma_edge.errors import AmmaEdgeError
from amma_edge.export.graphs import AMMA_OUTPUTS, ASTAR_OUTPUTS, GraphSpec

# The modules below name their forward argument like the graph input, so that exporters which take input names
# from the signature (torch.export, Torch-TensorRT) name the engine's input like the contract does.


class EncoderGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, clip: Tensor) -> Tensor:
        return self.model.encode(clip)


class HeadGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, features: Tensor) -> tuple[Tensor, ...]:
        out = self.model.head(features)
        return tuple(out[name] for name in AMMA_OUTPUTS)


class FusedGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, clips: Tensor) -> tuple[Tensor, ...]:
        out = self.model(clips)
        return tuple(out[name] for name in AMMA_OUTPUTS)


class AStarGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, clip: Tensor) -> tuple[Tensor, ...]:
        out = self.model(clip)
        return tuple(out[name] for name in ASTAR_OUTPUTS)


_MODULES = {"encoder": EncoderGraph, "head": HeadGraph, "fused": FusedGraph, "astar": AStarGraph}


def graph_module(model: nn.Module, graph: str) -> nn.Module:
    """`graph` of `model` as a module in eval mode whose outputs are a tensor or a tuple in contract order.

    Eval mode matters twice: batch norm must use its running statistics, and the TorchScript exporter puts a
    module back into the mode it found it in, so a wrapper left in training mode would switch `model` to it.
    """
    if graph not in _MODULES:
        raise AmmaEdgeError(f"unknown graph {graph!r}; known: {', '.join(_MODULES)}")
    return _MODULES[graph](model).eval()


@torch.no_grad()
def run_graph(module: nn.Module, spec: GraphSpec, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyTorch outputs of a graph module as NumPy arrays by output name (the reference for parity)."""
    x = torch.from_numpy(np.ascontiguousarray(feed[spec.input_name], dtype=np.float32))
    out = module(x)
    values = out if isinstance(out, tuple) else (out,)
    return {name: v.detach().cpu().numpy() for name, v in zip(spec.outputs, values)}
