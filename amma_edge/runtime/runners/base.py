"""One contract for every inference engine, so ONNX Runtime, TensorRT and PyTorch are interchangeable.

A runner wraps one graph (an encoder, a head, a fused model or A*). It is created cheaply, does its heavy
loading in `activate()` (sessions, engines, device buffers) and frees it in `deactivate()`; as a context
manager it does both. `inputs` / `outputs` describe its tensors, `infer(feeds)` runs one batch and returns
NumPy arrays by output name. Runners may hand back the same preallocated output arrays on every call (the
TensorRT runner does, as its host buffers are pinned memory): read or copy an output before the next `infer`.

Runners are picked by name from a registry (`ort`, `trt`, `torch`) or from the model file's suffix. Each
backend module imports its optional library inside functions only, so importing this package never needs
onnxruntime, TensorRT or CUDA, and a missing one is a `MissingDependencyError` saying what to install.
"""
from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from amma_edge.errors import AmmaEdgeError, InputShapeError


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output: its name, shape (a str or -1 for a dynamic axis) and NumPy dtype."""

    name: str
    shape: tuple[int | str, ...]
    dtype: np.dtype

    def accepts(self, array: np.ndarray) -> bool:
        if array.dtype != self.dtype or array.ndim != len(self.shape):
            return False
        return all(not isinstance(d, int) or d < 0 or d == s for d, s in zip(self.shape, array.shape))

    def describe(self) -> str:
        return f"{self.name} {np.dtype(self.dtype).name} ({', '.join(str(d) for d in self.shape)})"


class Runner(abc.ABC):
    """Base of every backend: activation state, feed checks, inference timing. Subclasses implement the
    underscored hooks."""

    backend: ClassVar[str] = ""  # the registry name

    def __init__(self, source: str):
        self.source = source  # what it runs, for messages and reports
        self._active = False
        self.last_inference_ms: float | None = None  # wall time of the latest infer, feeds in to outputs out

    # --- lifecycle ------------------------------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        return self._active

    def activate(self) -> Runner:
        """Load the model (a no-op when already active); returns self so `runner = X(...).activate()` reads."""
        if not self._active:
            self._activate()
            self._active = True
        return self

    def deactivate(self) -> None:
        """Free what `activate` loaded; safe to call twice."""
        if self._active:
            self._active = False
            self._deactivate()

    def __enter__(self) -> Runner:
        return self.activate()

    def __exit__(self, *exc: object) -> None:
        self.deactivate()

    # --- tensors --------------------------------------------------------------------------------------------

    @property
    def inputs(self) -> dict[str, TensorInfo]:
        self._require_active("inputs")
        return self._inputs()

    @property
    def outputs(self) -> dict[str, TensorInfo]:
        self._require_active("outputs")
        return self._outputs()

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch: `feeds` maps every input name to an array of its dtype and shape."""
        self._require_active("infer")
        expected = self._inputs()
        missing = [name for name in expected if name not in feeds]
        unknown = [name for name in feeds if name not in expected]
        if missing or unknown:
            raise InputShapeError(
                f"{self.source} takes inputs {', '.join(i.describe() for i in expected.values())}; got "
                f"{', '.join(feeds) or 'none'} (missing: {', '.join(missing) or '-'}, unknown: {', '.join(unknown) or '-'})"
            )
        for name, info in expected.items():
            array = feeds[name]
            if not isinstance(array, np.ndarray) or not info.accepts(array):
                got = (f"{array.dtype.name} {tuple(array.shape)}" if isinstance(array, np.ndarray)
                       else type(array).__name__)
                raise InputShapeError(f"{self.source} input {info.describe()} was fed {got}")
        start = time.perf_counter()
        outputs = self._infer(feeds)
        self.last_inference_ms = (time.perf_counter() - start) * 1e3
        return outputs

    def _require_active(self, what: str) -> None:
        if not self._active:
            raise AmmaEdgeError(f"{type(self).__name__}.{what} needs an active runner: call activate() first "
                                "or use it as a context manager (`with runner: ...`)")

    # --- backend hooks --------------------------------------------------------------------------------------

    @abc.abstractmethod
    def _activate(self) -> None: ...

    @abc.abstractmethod
    def _deactivate(self) -> None: ...

    @abc.abstractmethod
    def _inputs(self) -> dict[str, TensorInfo]: ...

    @abc.abstractmethod
    def _outputs(self) -> dict[str, TensorInfo]: ...

    @abc.abstractmethod
    def _infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r}, active={self._active})"


# --- registry ---------------------------------------------------------------------------------------------------

_RUNNERS: dict[str, Callable[[], type[Runner]]] = {}

# Which backend a model file's suffix implies.
SUFFIX_BACKENDS = {".onnx": "ort", ".engine": "trt", ".plan": "trt", ".pt": "torch", ".pth": "torch"}


def register_runner(name: str, loader: Callable[[], type[Runner]]) -> None:
    """Make a runner class available by `name`; `loader` imports it on first use (backends stay lazy)."""
    _RUNNERS[name] = loader


def runner_names() -> tuple[str, ...]:
    return tuple(_RUNNERS)


def runner_class(name: str) -> type[Runner]:
    try:
        loader = _RUNNERS[name]
    except KeyError:
        raise AmmaEdgeError(f"unknown backend {name!r}: choose from {', '.join(_RUNNERS)}") from None
    return loader()


def backend_for(path: str | Path, backend: str | None = None) -> str:
    """The backend to run `path` with: `backend` when given, else the one its suffix implies."""
    if backend:
        runner_class(backend)  # validates the name
        return backend
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_BACKENDS:
        raise AmmaEdgeError(
            f"cannot tell which backend runs {path}: name a file ending in "
            f"{', '.join(sorted(SUFFIX_BACKENDS))}, or pass --backend {'|'.join(_RUNNERS)}"
        )
    return SUFFIX_BACKENDS[suffix]


def _ort() -> type[Runner]:
    from amma_edge.runtime.runners.onnxruntime_runner import OnnxRuntimeRunner

    return OnnxRuntimeRunner


def _trt() -> type[Runner]:
    from amma_edge.runtime.runners.tensorrt_runner import TensorRTRunner

    return TensorRTRunner


def _torch() -> type[Runner]:
    from amma_edge.runtime.runners.torch_runner import TorchRunner

    return TorchRunner


register_runner("ort", _ort)
register_runner("trt", _trt)
register_runner("torch", _torch)


def import_optional(module: str, package: str, feature: str, hint: str | None = None) -> Any:
    """`importlib.import_module(module)`, or MissingDependencyError naming the pip package to install."""
    import importlib

    from amma_edge.errors import MissingDependencyError

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, feature, hint) from None
