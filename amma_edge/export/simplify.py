"""Graph simplification with onnxsim, never at the price of a broken graph.

onnxsim folds constants (the shape arithmetic the tracer records around reshapes), fuses batch norms into
convolutions and removes identities: fewer nodes for TensorRT's parser and for ONNX Runtime on the device.
It is an optimisation, not a requirement: when onnxsim is missing, raises, fails its own random-input check
or produces a graph onnx.checker rejects, the export keeps the checked unsimplified graph and says why.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

# onnxsim runs its simplified graph against the original on this many random inputs.
SIMPLIFY_CHECKS = 1


@dataclass(frozen=True)
class SimplifyResult:
    model: Any  # onnx.ModelProto: the simplified graph, or the input graph when simplification was not kept
    simplified: bool
    nodes_before: int
    nodes_after: int
    reason: str | None = None  # why the input graph was kept

    def describe(self) -> str:
        if self.simplified:
            return f"simplified, {self.nodes_before} → {self.nodes_after} nodes"
        return f"not simplified ({self.reason}), {self.nodes_before} nodes"


def simplify_onnx(model: Any, graph: str = "graph", check_n: int = SIMPLIFY_CHECKS) -> SimplifyResult:
    """`model` simplified by onnxsim, or `model` itself with the reason it was kept."""
    import onnx

    before = len(model.graph.node)

    def keep(reason: str) -> SimplifyResult:
        return SimplifyResult(model, False, before, before, reason)

    try:
        import onnxsim
    except ImportError:
        return keep("onnxsim is not installed: pip install onnxsim")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # onnxsim prints its check progress
            simplified, check_ok = onnxsim.simplify(model, check_n=check_n)
    except Exception as exc:  # onnxsim raises RuntimeError, ValueError, onnx errors, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return keep(f"onnxsim failed: {first}")
    if not check_ok:
        return keep("onnxsim's random-input check found the simplified graph differs from the original")
    try:
        onnx.checker.check_model(simplified, full_check=True)
    except Exception as exc:
        return keep(f"the simplified {graph} graph fails onnx.checker: {str(exc).splitlines()[0]}")
    if _opset(simplified) != _opset(model):
        return keep(f"onnxsim changed the opset from {_opset(model)} to {_opset(simplified)}")
    return SimplifyResult(simplified, True, before, len(simplified.graph.node))


def _opset(model: Any) -> int | None:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
