"""ONNX Runtime backend: the default engine on any machine (CPU), and on GPUs through the CUDA or TensorRT
execution providers.

Providers are named by short names: `cpu`, `cuda`, `tensorrt`. By default the runner uses CUDA when this
onnxruntime build has it and the CPU otherwise; the TensorRT provider builds engines at first use (minutes on a
Jetson) and is therefore used only when asked for. CPU sessions run with `intra_op_threads` threads (default:
ONNX Runtime's choice, one per physical core).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.export.metadata import ModelMetadata, read_metadata_ort
from amma_edge.runtime.runners.base import Runner, TensorInfo, import_optional

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}

# ONNX tensor element types as onnxruntime names them → NumPy.
_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
              "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


@dataclass(frozen=True)
class OrtOptions:
    providers: tuple[str, ...] | None = None  # short names in order of preference; None: cuda if present, else cpu
    intra_op_threads: int | None = None  # None: onnxruntime's default
    optimization: str = "all"  # basic | extended | all | disable

    def __post_init__(self) -> None:
        unknown = [p for p in self.providers or () if p not in PROVIDERS]
        if unknown:
            raise AmmaEdgeError(f"unknown ONNX Runtime provider(s) {', '.join(unknown)}: choose from "
                                f"{', '.join(PROVIDERS)}")
        if self.intra_op_threads is not None and self.intra_op_threads < 1:
            raise AmmaEdgeError(f"intra-op threads must be at least 1, got {self.intra_op_threads}")
        if self.optimization not in ("basic", "extended", "all", "disable"):
            raise AmmaEdgeError(f"unknown graph optimization level {self.optimization!r}: basic, extended, all or "
                                "disable")


def _onnxruntime() -> Any:
    return import_optional("onnxruntime", "onnxruntime", "running .onnx models",
                           "or onnxruntime-gpu for CUDA; on Jetson the wheel from jetson-ai-lab")


def available_providers() -> tuple[str, ...]:
    """Short names of the providers this onnxruntime build offers."""
    ort = _onnxruntime()
    offered = set(ort.get_available_providers())
    return tuple(short for short, full in PROVIDERS.items() if full in offered)


def choose_providers(requested: Sequence[str] | None) -> list[str]:
    """Full provider names for a session: the requested ones (each must be available), or the default."""
    available = available_providers()
    if requested is None:
        return [PROVIDERS[p] for p in (("cuda", "cpu") if "cuda" in available else ("cpu",))]
    missing = [p for p in requested if p not in available]
    if missing:
        raise AmmaEdgeError(
            f"this onnxruntime build has no {', '.join(missing)} provider (it offers {', '.join(available)}): "
            "install onnxruntime-gpu for cuda/tensorrt, or drop the provider"
        )
    chosen = [PROVIDERS[p] for p in requested]
    if PROVIDERS["cpu"] not in chosen:
        chosen.append(PROVIDERS["cpu"])  # nodes a GPU provider cannot run fall back to the CPU
    return chosen


class OnnxRuntimeRunner(Runner):
    backend = "ort"

    def __init__(self, path: str | Path, options: OrtOptions | None = None):
        super().__init__(str(path))
        self.path = Path(path)
        self.options = options or OrtOptions()
        self._session: Any = None
        self._input_info: dict[str, TensorInfo] = {}
        self._output_info: dict[str, TensorInfo] = {}
        self._output_names: list[str] = []
        self.metadata: ModelMetadata | None = None  # read from the session at activation

    @property
    def providers(self) -> list[str]:
        """The providers the active session really uses, best first."""
        self._require_active("providers")
        return list(self._session.get_providers())

    def _activate(self) -> None:
        ort = _onnxruntime()
        if not self.path.is_file():
            raise AmmaEdgeError(f"ONNX model {self.path} does not exist: pass a file written by `amma-edge export`")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.options.optimization]
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if self.options.intra_op_threads:
            opts.intra_op_num_threads = self.options.intra_op_threads
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=opts,
                                                 providers=choose_providers(self.options.providers))
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
            if isinstance(exc, AmmaEdgeError):
                raise
            raise AmmaEdgeError(f"ONNX Runtime cannot load {self.path}: {exc}".splitlines()[0]) from exc
        self.metadata = read_metadata_ort(self._session, str(self.path))
        self._input_info = {i.name: _tensor_info(i) for i in self._session.get_inputs()}
        self._output_info = {o.name: _tensor_info(o) for o in self._session.get_outputs()}
        self._output_names = list(self._output_info)

    def _deactivate(self) -> None:
        self._session = None

    def _inputs(self) -> dict[str, TensorInfo]:
        return dict(self._input_info)

    def _outputs(self) -> dict[str, TensorInfo]:
        return dict(self._output_info)

    def _infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self._session.run(self._output_names, dict(feeds))
        return dict(zip(self._output_names, values))


def _tensor_info(node: Any) -> TensorInfo:
    dtype = _ORT_TYPES.get(node.type)
    if dtype is None:
        raise AmmaEdgeError(f"tensor {node.name} has type {node.type}, which the amma-edge runtime does not feed")
    shape = tuple(d if isinstance(d, int) else str(d) for d in node.shape)
    return TensorInfo(node.name, shape, np.dtype(dtype))
