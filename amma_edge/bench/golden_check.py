"""Does an engine reproduce the golden outputs saved at export? The harness the device tests (TensorRT) and
the CPU tests (ONNX Runtime) share, and the `golden` column of `amma-edge bench`.

Each graph of an open model is fed its golden input and compared with `compare_golden`, Polygraphy-style
(|actual − golden| <= atol + rtol·|golden| per element). The absolute tolerance is a fraction of each
output's range (max |golden|), so a heatmap in [0, 1] and box sizes in pixels are held to the same relative
standard. The fractions per (backend, precision) are where numerics legitimately differ: ONNX Runtime fp32
reproduces PyTorch to rounding; TensorRT fp32 may run TF32 convolutions on Ampere and newer; fp16 keeps ~3
significant digits; INT8 is compared with the calibrated folder's own golden outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.export.golden import GoldenReport, compare_golden, golden_path, load_golden
from amma_edge.runtime.runners.model import DeviceModel


@dataclass(frozen=True)
class GoldenTolerance:
    rtol: float
    atol_of_range: float  # atol = this × max |golden| of each output


TOLERANCES = {
    ("ort", "fp32"): GoldenTolerance(1e-4, 1e-4),
    ("torch", "fp32"): GoldenTolerance(1e-4, 1e-4),
    ("trt", "fp32"): GoldenTolerance(1e-2, 1e-2),
    ("torch", "fp16"): GoldenTolerance(5e-2, 2e-2),
    ("trt", "fp16"): GoldenTolerance(5e-2, 2e-2),
    ("ort", "int8"): GoldenTolerance(1e-1, 5e-2),
    ("trt", "int8"): GoldenTolerance(1e-1, 1e-1),
}
DEFAULT_TOLERANCE = GoldenTolerance(1e-1, 1e-1)


def tolerance_for(runtime: str, precision: str) -> GoldenTolerance:
    return TOLERANCES.get((runtime, precision), DEFAULT_TOLERANCE)


def check_golden(model: DeviceModel, golden_dir: str | Path, tolerance: GoldenTolerance | None = None
                 ) -> dict[str, GoldenReport]:
    """Per graph of `model` with a golden file in `golden_dir`/golden/: its report. Graphs without one are left
    out (an export always writes them; an empty result means the folder has none)."""
    tolerance = tolerance or tolerance_for(model.backend, model.precision)
    reports = {}
    for graph, runner in model.runners.items():
        path = golden_path(golden_dir, graph)
        if not path.is_file():
            continue
        golden = load_golden(path)
        # Runners may hand back reused buffers (TensorRT's pinned memory): copy before the next call.
        outputs = {k: np.array(v, copy=True) for k, v in runner.infer(golden.inputs).items()}
        atol = {name: tolerance.atol_of_range * float(np.abs(ref).max()) if ref.size else 0.0
                for name, ref in golden.outputs.items()}
        reports[graph] = compare_golden(outputs, golden, rtol=tolerance.rtol, atol=atol)
    return reports


def golden_summary(reports: dict[str, GoldenReport], tolerance: GoldenTolerance) -> dict[str, Any]:
    """The JSON form of a check: passed overall, and per graph and output the largest errors."""
    return {
        "passed": all(r.passed for r in reports.values()) if reports else None,
        "rtol": tolerance.rtol, "atol_of_range": tolerance.atol_of_range,
        "graphs": {g: {"passed": r.passed,
                       "outputs": {c.name: {"max_abs": _finite(c.max_abs), "max_rel": _finite(c.max_rel),
                                            "mismatched": c.mismatches, "size": c.size, "problem": c.problem}
                                   for c in r.outputs.values()}}
                   for g, r in reports.items()},
    }


def _finite(value: float) -> float | None:
    return float(f"{value:.3g}") if np.isfinite(value) else None
