"""Golden files: one fixed input per graph and the outputs PyTorch gives for it, stored beside the export.

On the device, a regression test runs an engine (ONNX Runtime, TensorRT fp32 / fp16 / int8) on the golden
input and compares with `compare_golden`, Polygraphy-style: an element matches when
|actual − golden| <= atol + rtol·|golden|, with rtol and atol given once or per output name. The reference is
PyTorch, the model's own definition, not any one runtime.

File layout (`golden/<graph>.npz`, loadable with `np.load(allow_pickle=False)`): arrays `input.<name>` and
`output.<name>`, and `source`, a JSON string saying what the input is (a dataset clip or a seeded random
tensor) and what produced the outputs.
"""
from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.fileio import atomic_write

GOLDEN_DIR = "golden"
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-5
ANY_OUTPUT = "*"  # key of a per-output tolerance mapping that applies to outputs not named in it

Tolerance = float | Mapping[str, float]


@dataclass(frozen=True)
class Golden:
    graph: str
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    source: dict[str, Any]


def golden_path(folder: str | os.PathLike, graph: str) -> Path:
    return Path(folder) / GOLDEN_DIR / f"{graph}.npz"


def save_golden(path: str | os.PathLike, golden: Golden) -> Path:
    arrays = {f"input.{k}": np.asarray(v) for k, v in golden.inputs.items()}
    arrays.update({f"output.{k}": np.asarray(v) for k, v in golden.outputs.items()})
    arrays["source"] = np.array(json.dumps({"graph": golden.graph, **golden.source}, sort_keys=True))

    def write(f: Any) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        f.write(buffer.getvalue())

    return atomic_write(path, write)


def load_golden(path: str | os.PathLike) -> Golden:
    path = Path(path)
    if not path.is_file():
        raise AmmaEdgeError(f"golden file {path} does not exist: export the model again (amma-edge export writes "
                            f"{GOLDEN_DIR}/<graph>.npz)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise AmmaEdgeError(f"{path} is not a readable golden file ({exc}): export the model again") from exc
    try:
        source = json.loads(str(arrays.pop("source")))
    except (KeyError, ValueError) as exc:
        raise AmmaEdgeError(f"{path} has no valid 'source' entry, so amma-edge did not write it") from exc
    inputs = {k[len("input."):]: v for k, v in arrays.items() if k.startswith("input.")}
    outputs = {k[len("output."):]: v for k, v in arrays.items() if k.startswith("output.")}
    if not inputs or not outputs:
        raise AmmaEdgeError(f"{path} holds no inputs or no outputs: export the model again")
    return Golden(str(source.pop("graph", path.stem)), inputs, outputs, source)


@dataclass(frozen=True)
class OutputComparison:
    name: str
    rtol: float
    atol: float
    max_abs: float = float("nan")
    max_rel: float = float("nan")  # max|a − g| / max|g|, as the export's parity table
    mismatches: int = 0  # elements outside atol + rtol·|golden|
    size: int = 0
    problem: str | None = None  # missing output, wrong shape, NaN

    @property
    def passed(self) -> bool:
        return self.problem is None and self.mismatches == 0


@dataclass(frozen=True)
class GoldenReport:
    graph: str
    outputs: dict[str, OutputComparison]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.outputs.values())

    @property
    def failures(self) -> list[OutputComparison]:
        return [c for c in self.outputs.values() if not c.passed]

    def format(self) -> str:
        from amma_edge.tables import format_table

        rows = [[c.name, f"{c.max_abs:.2e}", f"{c.max_rel:.2e}", f"{c.mismatches}/{c.size}", f"{c.rtol:g}",
                 f"{c.atol:g}", "ok" if c.passed else (c.problem or "FAIL")] for c in self.outputs.values()]
        return format_table(["output", "max abs", "max rel", "mismatched", "rtol", "atol", ""], rows)

    def __str__(self) -> str:
        return f"{self.graph} against its golden outputs: {'passed' if self.passed else 'FAILED'}\n{self.format()}"

    def raise_on_failure(self) -> None:
        if not self.passed:
            raise AmmaEdgeError(f"{self.graph} does not reproduce its golden outputs: " + "; ".join(
                c.problem or f"{c.name}: {c.mismatches} of {c.size} elements off (max abs {c.max_abs:.2e})"
                for c in self.failures))


def _tolerance(value: Tolerance, name: str, default: float) -> float:
    if isinstance(value, Mapping):
        return float(value.get(name, value.get(ANY_OUTPUT, default)))
    return float(value)


def compare_golden(outputs: Mapping[str, np.ndarray], golden: Golden | str | os.PathLike,
                   rtol: Tolerance = DEFAULT_RTOL, atol: Tolerance = DEFAULT_ATOL) -> GoldenReport:
    """Compare a runtime's `outputs` (by name) with the golden ones. `rtol` / `atol` are numbers or mappings
    from output name to tolerance (key "*" for the rest). Outputs the golden file lacks are ignored; golden
    outputs missing from `outputs` fail."""
    if not isinstance(golden, Golden):
        golden = load_golden(golden)
    results = {}
    for name, expected in golden.outputs.items():
        r, a = _tolerance(rtol, name, DEFAULT_RTOL), _tolerance(atol, name, DEFAULT_ATOL)
        if name not in outputs:
            results[name] = OutputComparison(name, r, a, problem=f"{name}: missing from the outputs")
            continue
        actual = np.asarray(outputs[name], dtype=np.float64)
        ref = np.asarray(expected, dtype=np.float64)
        if actual.shape != ref.shape:
            results[name] = OutputComparison(name, r, a, size=ref.size,
                                             problem=f"{name}: shape {actual.shape}, golden {ref.shape}")
            continue
        if not np.all(np.isfinite(actual)):
            results[name] = OutputComparison(name, r, a, size=ref.size, mismatches=int(np.sum(~np.isfinite(actual))),
                                             problem=f"{name}: NaN or infinity in the outputs")
            continue
        diff = np.abs(actual - ref)
        max_abs = float(diff.max()) if diff.size else 0.0
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        mismatches = int(np.sum(diff > a + r * np.abs(ref)))
        results[name] = OutputComparison(name, r, a, max_abs, max_abs / max(scale, 1e-12), mismatches, ref.size)
    return GoldenReport(golden.graph, results)
