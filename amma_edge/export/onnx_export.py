"""One graph module → a checked ONNX ModelProto, in memory.

The exporter is torch.onnx's TorchScript-based one (`dynamo=False`). In torch 2.13 the default is the
torch.export-based exporter, which needs the `onnxscript` package and rewrites the graph through its own
optimizer; the TorchScript path traces these convolutional models into plain, static ONNX that TensorRT's
parser takes as is, with no extra dependency. torch marks it deprecated, so a torch that has dropped it gets a
clear error here instead of a silently different graph. Parity against PyTorch is checked afterwards
(`amma_edge.export.parity`), whichever exporter wrote the graph.
"""
from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from amma_edge.errors import AmmaEdgeError, MissingDependencyError
from amma_edge.export.graphs import GraphSpec

DEFAULT_OPSET = 17
EXPORTER = "torch.onnx TorchScript exporter (dynamo=False)"


def require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError("onnx", "ONNX export") from None
    return onnx


def random_feed(spec: GraphSpec, seed: int) -> dict[str, np.ndarray]:
    """A seeded standard-normal input for every graph input (inputs are normalised images or features)."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape, dtype=np.float32) for name, shape in spec.inputs.items()}


def export_onnx(module: nn.Module, spec: GraphSpec, opset: int = DEFAULT_OPSET) -> Any:
    """Trace `module` (a `graph_module`) at the static shapes of `spec` → an `onnx.ModelProto`, checked."""
    onnx = require_onnx()
    example = torch.from_numpy(random_feed(spec, seed=0)[spec.input_name])
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The models check their input shapes in Python; under tracing those checks see traced sizes and warn
        # that a tensor became a bool. They pass for the one valid input traced, and parity is checked after.
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean",
                                category=torch.jit.TracerWarning, module=r"amma_edge\.models\.")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)
        try:
            torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=opset,
                              input_names=list(spec.inputs), output_names=list(spec.outputs),
                              do_constant_folding=True)
        except TypeError as exc:
            if "dynamo" in str(exc):
                raise AmmaEdgeError(f"this torch ({torch.__version__}) has no TorchScript ONNX exporter "
                                    "(dynamo=False), which amma-edge export uses: install torch < 2.14") from exc
            raise
        except Exception as exc:  # torch raises many types here (RuntimeError, OnnxExporterError, ...)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise AmmaEdgeError(f"torch.onnx could not export the {spec.name} graph at opset {opset}: {first}") from exc
    model = onnx.load_from_string(buffer.getvalue())
    model.graph.name = spec.name
    check_onnx(model, spec)
    return model


def check_onnx(model: Any, spec: GraphSpec) -> None:
    """onnx.checker (with shape inference) plus the contract: input/output names and static shapes."""
    onnx = require_onnx()
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # onnx.checker.ValidationError, onnx.shape_inference.InferenceError
        raise AmmaEdgeError(f"the exported {spec.name} graph fails onnx.checker: {str(exc).splitlines()[0]}") from exc
    found_in = {v.name: _static_shape(v) for v in model.graph.input}
    found_out = {v.name: _static_shape(v) for v in model.graph.output}
    for kind, want, found in (("inputs", spec.inputs, found_in), ("outputs", spec.outputs, found_out)):
        if list(found) != list(want) or any(found[k] != tuple(v) for k, v in want.items()):
            raise AmmaEdgeError(f"the exported {spec.name} graph has {kind} {found}, the contract says {dict(want)}; "
                                "this is a bug in amma-edge's export, please report it")


def _static_shape(value_info: Any) -> tuple[int | str, ...]:
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims)
