"""Running the fp32 graph in ONNX Runtime with its intermediate tensors as extra outputs, so the calibrators see
every activation on every calibration input.

All float activations are collected (graph inputs and the outputs of every node that does not fold to a
constant), not only the ones the Q/DQ model quantizes: TensorRT's implicit-quantization calibration cache
wants a scale for every tensor of the network, and the sensitivity analysis may move the Q/DQ placement.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from amma_edge.calibration.calibrators import NUM_BINS, Calibrator, TensorStatistics
from amma_edge.calibration.reader import CalibrationDataReader, iterate
from amma_edge.errors import MissingDependencyError

Log = Callable[[str], None]


def require_onnx() -> Any:
    """The onnx package, or MissingDependencyError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError("onnx", "INT8 calibration", "pip install amma-edge[export]") from None
    return onnx


def float_activations(model: Any) -> list[str]:
    """Names of the float32 tensors computed from the graph inputs, in graph order (inputs first)."""
    onnx = require_onnx()
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    constant = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in constant
             and i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT]
    for node in model.graph.node:
        if node.op_type == "Constant" or all(not i or i in constant for i in node.input):
            constant.update(node.output)
            continue
        names += [o for o in node.output if o and types.get(o) == onnx.TensorProto.FLOAT]
    return names


def session_with_outputs(model: Any, names: Iterable[str], threads: int | None = None) -> Any:
    """A CPU session of `model` that also returns the tensors `names` (graph outputs are kept)."""
    onnx = require_onnx()
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    present = {o.name for o in exposed.graph.output} | {i.name for i in exposed.graph.input}
    for name in names:
        if name not in present:
            exposed.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
            present.add(name)
    return ort_session(exposed.SerializeToString(), threads)


def ort_session(model_bytes: bytes, threads: int | None = None, optimize: bool = True) -> Any:
    """A CPU session with ONNX Runtime's full graph optimisation, as the device runtime opens models (or none,
    with `optimize=False`: every node runs as written, without ONNX Runtime's fused INT8 kernels)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("onnxruntime", "INT8 calibration") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.inter_op_num_threads = 1
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])


def collect_statistics(model: Any, names: list[str], reader: CalibrationDataReader, calibrator: Calibrator, *,
                       bins: int = NUM_BINS, threads: int | None = None,
                       log: Log | None = None) -> dict[str, TensorStatistics]:
    """Statistics of every tensor in `names` over all feeds of `reader`: one pass for the maxima, and a second
    for the histograms when `calibrator` needs them."""
    session = session_with_outputs(model, names, threads)
    inputs = {i.name for i in session.get_inputs()}
    outputs = [n for n in names if n not in inputs]
    stats = {n: TensorStatistics(n, bins) for n in names}

    def run(observe: Callable[[TensorStatistics, np.ndarray], None]) -> int:
        feeds = 0
        for feed in iterate(reader):
            values: Mapping[str, np.ndarray] = dict(zip(outputs, session.run(outputs, feed)))
            for name in names:
                observe(stats[name], feed[name] if name in inputs else values[name])
            feeds += 1
        return feeds

    count = run(TensorStatistics.observe_max)
    if log:
        log(f"  maxima of {len(names)} tensors over {count} input(s)")
    if calibrator.needs_histogram:
        run(TensorStatistics.observe_histogram)
        if log:
            log(f"  histograms of {len(names)} tensors ({bins} bins)")
    return stats


def tensor_ranges(stats: Mapping[str, TensorStatistics], calibrator: Calibrator) -> dict[str, float]:
    """amax per tensor by `calibrator`; tensors with identical statistics (a Reshape's output and its input)
    are computed once."""
    ranges: dict[str, float] = {}
    seen: dict[tuple[float, bytes], float] = {}
    for name, s in stats.items():
        key = (s.amax, s.histogram.tobytes() if s.histogram is not None else b"")
        if key not in seen:
            seen[key] = float(calibrator.amax(s))
        ranges[name] = seen[key]
    return ranges


__all__ = ["collect_statistics", "float_activations", "ort_session", "require_onnx", "session_with_outputs",
           "tensor_ranges"]
