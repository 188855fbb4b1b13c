"""PyTorch backend: a training checkpoint run as the exported graphs would be, for comparisons and debugging.

One runner serves one graph of the model, named as in the export contract: `encoder` (clip → feature),
`head` (K features → center, trajectory, box), `fused` (K clips → the same) or `astar` (window → box,
objectness, classes, embedding), with the same input and output names and shapes as the ONNX files. Several
runners may share one loaded model (`model=`), so encoder and head do not load the checkpoint twice.
`compile=True` wraps the graph in `torch.compile` (slow first call, faster afterwards where Inductor helps).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.export.graphs import graph_spec
from amma_edge.export.metadata import ModelMetadata
from amma_edge.models.config import AMMAConfig, ModelConfig
from amma_edge.runtime.runners.base import Runner, TensorInfo, import_optional

_F32 = np.dtype(np.float32)


def graph_shapes(config: ModelConfig, graph: str) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """(inputs, outputs) name → shape of one exported graph at batch 1: the export contract's (`graph_spec`)."""
    spec = graph_spec(config, graph)
    return spec.inputs, spec.outputs


def load_checkpoint_model(path: str | Path, device: str = "cpu") -> tuple[Any, ModelConfig, tuple[str, ...]]:
    """(eval-mode model, its config, class names) of a training checkpoint."""
    import_optional("torch", "torch", "running PyTorch checkpoints")
    from amma_edge.train.checkpoint import checkpoint_model_config, load_model

    model, state = load_model(path, map_location=device)
    config = getattr(model, "config", None) or checkpoint_model_config(state)
    names = tuple(state.get("class_names") or (str(i) for i in range(config.num_classes)))
    return model, config, names


class TorchRunner(Runner):
    backend = "torch"

    def __init__(self, path: str | Path | None = None, graph: str | None = None, *, model: Any = None,
                 config: ModelConfig | None = None, class_names: tuple[str, ...] | None = None,
                 compile: bool = False, device: str = "cpu"):
        """From a checkpoint `path`, or from a loaded `model` with its `config` (and class names)."""
        if (path is None) == (model is None):
            raise AmmaEdgeError("TorchRunner needs either a checkpoint path or a loaded model (not both)")
        if model is not None and config is None:
            config = getattr(model, "config", None)
            if config is None:
                raise AmmaEdgeError("TorchRunner(model=...) needs the model's config")
        super().__init__(str(path) if path is not None else f"{getattr(config, 'name', 'model')} (in memory)")
        self.path = Path(path) if path is not None else None
        self.graph = graph
        self.compile = compile
        self.device = device
        self._model, self._config, self._names = model, config, class_names
        self._fn: Any = None
        self._in: dict[str, TensorInfo] = {}
        self._out: dict[str, TensorInfo] = {}
        self.metadata: ModelMetadata | None = None  # made at activation, as an export would write it

    def _activate(self) -> None:
        torch = import_optional("torch", "torch", "running PyTorch checkpoints")
        from amma_edge.export.exporter import graph_metadata

        if self._model is None:
            self._model, self._config, self._names = load_checkpoint_model(self.path, self.device)
        config = self._config
        graph = self.graph or ("fused" if isinstance(config, AMMAConfig) else "astar")
        spec = graph_spec(config, graph)
        names = self._names or tuple(str(i) for i in range(config.num_classes))
        # What an export of this graph would carry; opset 0: no ONNX graph; no hash: the checkpoint itself runs.
        self.metadata = graph_metadata(config, names, spec, opset=0, checkpoint_sha256="")
        self._in = {n: TensorInfo(n, s, _F32) for n, s in spec.inputs.items()}
        self._out = {n: TensorInfo(n, s, _F32) for n, s in spec.outputs.items()}
        model = self._model.to(self.device).eval()
        fn = model.encode if graph == "encoder" else model.head if graph == "head" else model
        self._fn = torch.compile(fn) if self.compile else fn

    def _deactivate(self) -> None:
        self._fn = None
        if self.path is not None:  # loaded here: free it; a model handed in stays the caller's
            self._model = None

    def _inputs(self) -> dict[str, TensorInfo]:
        return dict(self._in)

    def _outputs(self) -> dict[str, TensorInfo]:
        return dict(self._out)

    def _infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        (name,) = self._in
        with warnings.catch_warnings():
            # A read-only feed (the feature cache's view) is only read by the model; torch warns regardless.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            x = torch.from_numpy(feeds[name]).to(self.device)
        with torch.inference_mode():
            out = self._fn(x)
        if isinstance(out, torch.Tensor):
            out = {next(iter(self._out)): out}
        return {k: out[k].float().cpu().numpy() for k in self._out}
