"""A trained model as the callables the streaming evaluation drives, whatever file it came from.

AMMA needs `encode` (one clip → one feature) and `head` (K features → maps); A* needs `detect` (one window →
raw head outputs). Wrapping a PyTorch model here keeps evaluation free of torch-specific code, so an exported
ONNX model or a TensorRT engine plugs into the same `evaluate_*` functions through the runtime's runners.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig


@dataclass(frozen=True)
class Detector:
    """What evaluation needs of a model; exactly one of (encode, head) or detect is set."""

    config: ModelConfig
    class_names: tuple[str, ...]
    source: str  # where it came from, for reports
    encode: Callable[[np.ndarray], np.ndarray] | None = None
    head: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None
    detect: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None


def torch_detector(model: Any, config: ModelConfig, class_names: tuple[str, ...], source: str = "pytorch",
                   device: str = "cpu") -> Detector:
    """Batch-1 NumPy-in, NumPy-out closures over an eval-mode PyTorch model, run without autograd."""
    import torch

    model = model.to(device).eval()

    def as_tensor(x: np.ndarray) -> torch.Tensor:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not x.flags.writeable:  # the feature cache hands out read-only views; torch wants to own writable memory
            x = x.copy()
        return torch.from_numpy(x).unsqueeze(0).to(device)

    if isinstance(config, AMMAConfig):
        @torch.inference_mode()
        def encode(clip: np.ndarray) -> np.ndarray:
            return model.encode(as_tensor(clip))[0].float().cpu().numpy()

        @torch.inference_mode()
        def head(features: np.ndarray) -> dict[str, np.ndarray]:
            return {k: v[0].float().cpu().numpy() for k, v in model.head(as_tensor(features)).items()}

        return Detector(config, class_names, source, encode=encode, head=head)
    if isinstance(config, AStarConfig):
        @torch.inference_mode()
        def detect(window: np.ndarray) -> dict[str, np.ndarray]:
            return {k: v[0].float().cpu().numpy() for k, v in model(as_tensor(window)).items()}

        return Detector(config, class_names, source, detect=detect)
    raise AmmaEdgeError(f"no evaluation path for model family {getattr(config, 'family', type(config).__name__)!r}")


def load_detector(path: str | os.PathLike, *, device: str = "cpu", backend: str | None = None,
                  threads: int | None = None) -> Detector:
    """A checkpoint (.pt, made by `amma-edge train`), an exported model folder / .onnx, or an engine, opened by
    the runtime's runners: evaluation then scores exactly the engine the device would run."""
    from amma_edge.runtime.runners.model import RunnerOptions, open_model

    path = Path(path)
    if not path.exists():
        raise AmmaEdgeError(f"model {path} does not exist: pass a checkpoint (runs/train/best.pt) or a folder "
                            "written by `amma-edge export`")
    model = open_model(path, backend, RunnerOptions(threads=threads, device=device))
    source = f"{path} ({model.describe()})"
    if isinstance(model.config, AMMAConfig):
        return Detector(model.config, tuple(model.class_names), source, encode=model.encode, head=model.head)
    return Detector(model.config, tuple(model.class_names), source, detect=model.detect)
