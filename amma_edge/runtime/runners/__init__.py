"""Inference engines behind one contract (`Runner`): ONNX Runtime, TensorRT, PyTorch; and `open_model`, which
turns a model path into the encoder / head (or A* detector) runners the streaming pipeline drives."""
from amma_edge.runtime.runners.base import (
    SUFFIX_BACKENDS,
    Runner,
    TensorInfo,
    backend_for,
    register_runner,
    runner_class,
    runner_names,
)
from amma_edge.runtime.runners.model import DeviceModel, RunnerOptions, open_model

__all__ = [
    "SUFFIX_BACKENDS",
    "DeviceModel",
    "Runner",
    "RunnerOptions",
    "TensorInfo",
    "backend_for",
    "open_model",
    "register_runner",
    "runner_class",
    "runner_names",
]
