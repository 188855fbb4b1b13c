"""How closely ONNX Runtime reproduces PyTorch on the exported graphs.

Errors are measured per output over all the inputs tried:

    max abs = max over inputs and elements of |onnx − torch|
    max rel = max over inputs of  max|onnx − torch| / max(max|torch|, REL_FLOOR)

The relative error divides by the largest reference magnitude of that output on that input (its scale), not
element by element: a heatmap is mostly near zero, and per-element ratios there measure rounding noise, not
disagreement. REL_FLOOR keeps the ratio defined when a reference is all zeros. An fp32 export must agree
within PARITY_RTOL, or it fails.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError, MissingDependencyError

PARITY_RTOL = 1e-4
REL_FLOOR = 1e-12
RELATIVE_ERROR = "max|onnx − torch| / max|torch| per output and input, the largest over the inputs"


@dataclass(frozen=True)
class OutputError:
    max_abs: float
    max_rel: float
    reference_max: float  # largest |torch| seen, the scale max_rel is relative to

    def worst(self, other: OutputError) -> OutputError:
        return OutputError(max(self.max_abs, other.max_abs), max(self.max_rel, other.max_rel),
                           max(self.reference_max, other.reference_max))

    def as_dict(self) -> dict[str, float]:
        return {"max_abs": self.max_abs, "max_rel": self.max_rel, "reference_max": self.reference_max}


def output_errors(actual: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]) -> dict[str, OutputError]:
    """Errors of `actual` against the reference `expected`, per output name (both must have the same outputs)."""
    if set(actual) != set(expected):
        raise AmmaEdgeError(f"outputs differ: got {sorted(actual)}, the reference has {sorted(expected)}")
    errors = {}
    for name, ref in expected.items():
        a, b = np.asarray(actual[name], dtype=np.float64), np.asarray(ref, dtype=np.float64)
        if a.shape != b.shape:
            raise AmmaEdgeError(f"output {name} has shape {a.shape}, the reference {b.shape}")
        if not np.all(np.isfinite(a)) or not np.all(np.isfinite(b)):
            bad = "ONNX Runtime" if not np.all(np.isfinite(a)) else "PyTorch"
            raise AmmaEdgeError(f"output {name}: {bad} produced NaN or infinity; the model weights may be broken")
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        errors[name] = OutputError(diff, diff / max(scale, REL_FLOOR), scale)
    return errors


@dataclass
class GraphParity:
    """Errors of one graph, kept apart per kind of input ("random", "data")."""

    graph: str
    errors: dict[str, dict[str, OutputError]] = field(default_factory=dict)  # kind → output → error
    counts: dict[str, int] = field(default_factory=dict)  # kind → inputs tried

    def add(self, kind: str, errors: Mapping[str, OutputError]) -> None:
        mine = self.errors.setdefault(kind, {})
        for name, err in errors.items():
            mine[name] = mine[name].worst(err) if name in mine else err
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def worst(self) -> tuple[str, str, OutputError] | None:
        """(kind, output, error) with the largest relative error."""
        rows = [(k, n, e) for k, per in self.errors.items() for n, e in per.items()]
        return max(rows, key=lambda r: r[2].max_rel, default=None)

    def passed(self, rtol: float = PARITY_RTOL) -> bool:
        worst = self.worst()
        return worst is None or worst[2].max_rel <= rtol

    def as_dict(self) -> dict[str, Any]:
        return {kind: {"inputs": self.counts[kind], "outputs": {n: e.as_dict() for n, e in per.items()}}
                for kind, per in self.errors.items()}


def ort_session(model_bytes: bytes) -> Any:
    """A CPU onnxruntime session of serialized ONNX, with ONNX Runtime's default (full) graph optimisation, as
    the device runtime uses it."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("onnxruntime", "the export parity check") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initializers etc. are noise here
    return ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])


def run_session(session: Any, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feed))))


def parity_rows(results: Sequence[GraphParity], rtol: float = PARITY_RTOL) -> list[list[str]]:
    rows = []
    for result in results:
        for kind, per in result.errors.items():
            for name, err in per.items():
                rows.append([result.graph, name, f"{kind} ×{result.counts[kind]}", f"{err.max_abs:.2e}",
                             f"{err.max_rel:.2e}", f"{err.reference_max:.3g}", "ok" if err.max_rel <= rtol else "FAIL"])
    return rows


def format_parity(results: Sequence[GraphParity], rtol: float = PARITY_RTOL) -> str:
    from amma_edge.tables import format_table

    title = (f"parity, ONNX Runtime (CPU) against PyTorch; rel = {RELATIVE_ERROR}; fp32 must stay within "
             f"{rtol:g}:")
    table = format_table(["graph", "output", "inputs", "max abs", "max rel", "max |torch|", ""],
                         parity_rows(results, rtol))
    return f"{title}\n{table}"


def require_parity(results: Sequence[GraphParity], rtol: float = PARITY_RTOL) -> None:
    """Raise an AmmaEdgeError naming every output that disagrees by more than `rtol`."""
    bad = [f"{r.graph}.{name} on {kind} inputs: max rel {err.max_rel:.2e} (max abs {err.max_abs:.2e})"
           for r in results for kind, per in r.errors.items() for name, err in per.items() if err.max_rel > rtol]
    if bad:
        raise AmmaEdgeError(f"ONNX Runtime disagrees with PyTorch beyond {rtol:g} relative: {'; '.join(bad)}. "
                            "Nothing was written. The export is unusable as is: try another --opset, or "
                            "--no-simplify to rule out the simplifier, and report the model")
