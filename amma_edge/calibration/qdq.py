"""Q/DQ models the way TensorRT consumes explicit quantization, with the scales our calibrators chose.

Placement follows TensorRT's recommendation for explicit quantization: the inputs of the weighted layers
(Conv, ConvTranspose, Gemm, MatMul) are quantized and nothing else. Each such activation gets one
QuantizeLinear → DequantizeLinear pair (signed INT8, zero point 0, scale = amax / 127, shared by every
quantized consumer of the tensor); each weight becomes an INT8 initializer with per-output-channel symmetric
scales read by a DequantizeLinear. Biases stay float (TensorRT folds them), and layer outputs are not
quantized: TensorRT fuses the quantization of the next layer's input into the producing layer. Graph outputs
therefore stay float. The operators are the standard ONNX ones (opset >= 13, which has per-axis Q/DQ), so
ONNX Runtime on a CPU runs the same file.

`QDQOptions` can also quantize the layer outputs and use unsigned activations (zero point 128): the pattern
ONNX Runtime's x86 kernels fuse into QLinearConv. That variant exists for CPU speed comparisons only; the
shipped model is TensorRT's format.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amma_edge.calibration.calibrators import INT8_MAX, int8_scale
from amma_edge.calibration.collect import require_onnx
from amma_edge.errors import AmmaEdgeError

WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
MIN_QDQ_OPSET = 13  # QuantizeLinear / DequantizeLinear with the axis attribute
ACTIVATION_TYPES = ("int8", "uint8")


@dataclass(frozen=True)
class Layer:
    """A weighted node: its float activation inputs, its weight initializer and the weight's channel axis."""

    name: str
    op_type: str
    activations: tuple[str, ...]
    weight: str | None
    axis: int | None  # None: one scale for the whole weight
    output: str


@dataclass(frozen=True)
class QDQOptions:
    activation_type: str = "int8"  # "uint8" (zero point 128): ONNX Runtime CPU comparisons only
    quantize_outputs: bool = False  # also Q/DQ on layer outputs that are not graph outputs
    # 7: weights within ±63, for uint8 activations on x86 CPUs without VNNI. There ONNX Runtime multiplies
    # u8 × s8 pairs into 16-bit sums (vpmaddubsw), which 255 · 127 · 2 overflows and saturates; 255 · 63 · 2
    # does not. TensorRT and VNNI CPUs accumulate in 32 bits and want the full 8.
    weight_bits: int = 8

    def __post_init__(self) -> None:
        if self.activation_type not in ACTIVATION_TYPES:
            raise ValueError(f"activation_type must be one of {ACTIVATION_TYPES}, got {self.activation_type!r}")
        if self.weight_bits not in (7, 8):
            raise ValueError(f"weight_bits must be 7 or 8, got {self.weight_bits!r}")

    @property
    def weight_max(self) -> int:
        return 2 ** (self.weight_bits - 1) - 1


@dataclass(frozen=True)
class QuantizedModel:
    model: Any  # onnx.ModelProto
    layers: tuple[str, ...]  # quantized layers, graph order
    float_layers: tuple[str, ...]  # weighted layers left in float
    activation_scales: dict[str, float] = field(default_factory=dict)  # tensor → scale of its Q/DQ pair


def ensure_node_names(model: Any) -> None:
    """Give every unnamed node a unique name (layers are addressed by node name)."""
    used = {n.name for n in model.graph.node if n.name}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{index}"
            while name in used:
                name += "_"
            node.name = name
            used.add(name)


def find_layers(model: Any) -> list[Layer]:
    """The weighted layers of `model` that can be quantized, in graph order."""
    onnx = require_onnx()
    inits = {i.name for i in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        if node.op_type not in WEIGHTED_OPS or len(node.input) < 2:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        x, w = node.input[0], node.input[1]
        if node.op_type in ("Conv", "ConvTranspose"):
            if w not in inits or x in inits:
                continue  # a computed kernel: nothing TensorRT quantizes as a weight
            if node.op_type == "Conv":
                axis = 0
            else:
                axis = 1 if int(attrs.get("group", 1)) == 1 else None  # ONNX kernel (C_in, C_out / group, …)
            layers.append(Layer(node.name, node.op_type, (x,), w, axis, node.output[0]))
            continue
        activations = tuple(i for i in (x, w) if i not in inits)
        weight = w if w in inits else None
        if not activations:
            continue  # constant × constant folds away
        axis = None
        if weight is not None:
            dims = len(_initializer(model, weight).dims)
            if node.op_type == "Gemm":
                axis = 0 if int(attrs.get("transB", 0)) else 1
            elif dims == 2:
                axis = 1  # MatMul B is (K, N): one scale per output column
        layers.append(Layer(node.name, node.op_type, activations, weight, axis, node.output[0]))
    return layers


def _initializer(model: Any, name: str) -> Any:
    for init in model.graph.initializer:
        if init.name == name:
            return init
    raise KeyError(name)


def weight_scales(weight: np.ndarray, axis: int | None, qmax: int = INT8_MAX) -> np.ndarray:
    """float32 scales max|W| / qmax per channel of `axis` (or one for the whole weight); empty channels 1/qmax."""
    w = np.abs(np.asarray(weight, dtype=np.float32))
    if axis is None:
        amax = np.array(w.max() if w.size else 0.0, dtype=np.float32)
    else:
        amax = w.max(axis=tuple(d for d in range(w.ndim) if d != axis))
    amax = np.where(amax > 0, amax, np.float32(1.0)).astype(np.float32)
    return (amax / np.float32(qmax)).astype(np.float32)


def quantize_weight(weight: np.ndarray, scales: np.ndarray, axis: int | None, qmax: int = INT8_MAX) -> np.ndarray:
    """INT8 values round(W / scale) (ties to even, as QuantizeLinear rounds), within ±qmax."""
    w = np.asarray(weight, dtype=np.float32)
    shape = [1] * w.ndim
    if axis is not None:
        shape[axis] = -1
    q = np.rint(w / scales.reshape(shape) if axis is not None else w / scales)
    return np.clip(q, -qmax, qmax).astype(np.int8)


def _upgrade_opset(model: Any) -> Any:
    version = opset_version(model)
    if version >= MIN_QDQ_OPSET:
        return model
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, MIN_QDQ_OPSET)
    except Exception as exc:  # the converter raises its own error types
        raise AmmaEdgeError(f"the fp32 model has opset {version}; per-channel Q/DQ needs opset {MIN_QDQ_OPSET} and "
                            f"converting it failed ({exc}): export it again with `amma-edge export --opset 17`") \
            from exc


def opset_version(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def quantize_model(model: Any, ranges: Mapping[str, float], *, layers: Iterable[str] | None = None,
                   exclude: Iterable[str] = (), options: QDQOptions | None = None) -> QuantizedModel:
    """A Q/DQ copy of `model` quantizing `layers` (default: every weighted layer) except `exclude`.

    `ranges` maps activation tensor names to amax; every quantized layer's activation inputs must be in it.
    The metadata_props of `model` are kept.
    """
    onnx = require_onnx()
    from onnx import numpy_helper

    options = options or QDQOptions()
    work = onnx.ModelProto()
    work.CopyFrom(model)
    work = _upgrade_opset(work)
    ensure_node_names(work)
    everything = find_layers(work)
    wanted = None if layers is None else set(layers)
    skipped = set(exclude)
    known = {layer.name for layer in everything}
    unknown = sorted((wanted or set()) - known) + sorted(skipped - known)
    if unknown:
        raise AmmaEdgeError(f"no quantizable layer named {', '.join(unknown[:3])} in the graph: name Conv, "
                            "ConvTranspose, Gemm or MatMul nodes (see the sensitivity table of the report)")
    chosen = [layer for layer in everything if (wanted is None or layer.name in wanted) and layer.name not in skipped]
    graph = work.graph
    nodes = {n.name: n for n in graph.node}
    inits = {i.name: i for i in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    unsigned = options.activation_type == "uint8"
    zero_point = (np.array(128, dtype=np.uint8) if unsigned else np.array(0, dtype=np.int8))
    taken = {i.name for i in graph.initializer} | {o for n in graph.node for o in n.output} | \
        {i.name for i in graph.input}

    def fresh(name: str) -> str:
        candidate = name
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        return candidate

    before: dict[str, list[Any]] = defaultdict(list)
    after: dict[str, list[Any]] = defaultdict(list)
    new_inits: list[Any] = []
    dequantized: dict[str, str] = {}  # tensor → the output of its DequantizeLinear
    scales: dict[str, float] = {}

    def qdq_pair(tensor: str) -> list[Any]:
        if tensor not in ranges:
            raise AmmaEdgeError(f"no calibration range for tensor {tensor}: it was not collected; calibrate again")
        scale = int8_scale(ranges[tensor])
        scales[tensor] = float(scale)
        s_name, z_name = fresh(f"{tensor}_scale"), fresh(f"{tensor}_zero_point")
        new_inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), s_name))
        new_inits.append(numpy_helper.from_array(zero_point.copy(), z_name))
        q_out, dq_out = fresh(f"{tensor}_quantized"), fresh(f"{tensor}_dequantized")
        dequantized[tensor] = dq_out
        return [onnx.helper.make_node("QuantizeLinear", [tensor, s_name, z_name], [q_out],
                                      name=fresh(f"{tensor}_QuantizeLinear")),
                onnx.helper.make_node("DequantizeLinear", [q_out, s_name, z_name], [dq_out],
                                      name=fresh(f"{tensor}_DequantizeLinear"))]

    if options.quantize_outputs:
        producers = {o: n for n in graph.node for o in n.output}
        for layer in chosen:
            out = layer.output
            if out in graph_outputs or out in dequantized:
                continue
            pair = qdq_pair(out)
            after[producers[out].name] += pair
            for node in graph.node:
                for index, name in enumerate(node.input):
                    if name == out:
                        node.input[index] = dequantized[out]

    weights_done: dict[str, str] = {}
    for layer in chosen:
        node = nodes[layer.name]
        for index, name in enumerate(node.input):
            if name in layer.activations:
                if name not in dequantized:
                    before[node.name] += qdq_pair(name)
                node.input[index] = dequantized[name]
            elif name == layer.weight:
                if name not in weights_done:
                    w = numpy_helper.to_array(inits[name])
                    s = weight_scales(w, layer.axis, options.weight_max)
                    q_name, s_name, z_name = fresh(f"{name}_quantized"), fresh(f"{name}_scale"), \
                        fresh(f"{name}_zero_point")
                    new_inits += [numpy_helper.from_array(quantize_weight(w, s, layer.axis, options.weight_max), q_name),
                                  numpy_helper.from_array(s if layer.axis is not None else s.reshape(()), s_name),
                                  numpy_helper.from_array(np.zeros(s.shape, dtype=np.int8), z_name)]
                    dq_out = fresh(f"{name}_dequantized")
                    extra = {"axis": layer.axis} if layer.axis is not None else {}
                    before[node.name].append(onnx.helper.make_node("DequantizeLinear", [q_name, s_name, z_name],
                                                                   [dq_out], name=fresh(f"{name}_DequantizeLinear"),
                                                                   **extra))
                    weights_done[name] = dq_out
                node.input[index] = weights_done[name]

    ordered = []
    for node in graph.node:
        ordered += before.get(node.name, [])
        ordered.append(node)
        ordered += after.get(node.name, [])
    del graph.node[:]
    graph.node.extend(ordered)
    graph.initializer.extend(new_inits)
    still_used = {i for n in graph.node for i in n.input} | graph_outputs
    kept = [i for i in graph.initializer if i.name in still_used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    chosen_names = {layer.name for layer in chosen}
    return QuantizedModel(work, tuple(layer.name for layer in chosen),
                          tuple(layer.name for layer in everything if layer.name not in chosen_names), scales)


def activation_scales(model: Any) -> dict[str, float]:
    """Tensor → scale of every activation QuantizeLinear in a Q/DQ model (read back from the file)."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    return {n.input[0]: float(numpy_helper.to_array(inits[n.input[1]]))
            for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[1] in inits}


__all__ = [
    "ACTIVATION_TYPES",
    "MIN_QDQ_OPSET",
    "WEIGHTED_OPS",
    "Layer",
    "QDQOptions",
    "QuantizedModel",
    "activation_scales",
    "ensure_node_names",
    "find_layers",
    "opset_version",
    "quantize_model",
    "quantize_weight",
    "weight_scales",
]
