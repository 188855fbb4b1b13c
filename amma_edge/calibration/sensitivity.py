"""Which layers INT8 hurts most: each weighted layer quantized alone, its graph's outputs compared with fp32.

A layer's sensitivity is the SQNR of the graph's worst output (lowest dB over its outputs) on the calibration
inputs when only that layer (its activation inputs and its weights) is quantized and everything else stays
float. Ranking by it, lowest first, says which layers to leave in float (`--keep-float N`) when the whole
INT8 model loses too much accuracy. The SQNRs of different graphs are all measured on their own outputs,
so they rank together as numbers of the same kind, not as effects on the final detections; `--keep-float
auto` checks the effect on frame-mAP itself.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from amma_edge.calibration.collect import ort_session
from amma_edge.calibration.metrics import SQNR, json_db
from amma_edge.calibration.qdq import find_layers, quantize_model
from amma_edge.calibration.reader import CalibrationDataReader, iterate

Log = Callable[[str], None]


@dataclass(frozen=True)
class LayerSensitivity:
    graph: str
    layer: str
    op_type: str
    sqnr_db: float  # the worst output's
    outputs: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"graph": self.graph, "layer": self.layer, "op_type": self.op_type, "sqnr_db": json_db(self.sqnr_db),
                "outputs": {k: json_db(v) for k, v in self.outputs.items()}}


def run_all(session: Any, reader: CalibrationDataReader) -> list[dict[str, np.ndarray]]:
    names = [o.name for o in session.get_outputs()]
    return [dict(zip(names, session.run(names, feed))) for feed in iterate(reader)]


def outputs_sqnr(reference: list[Mapping[str, np.ndarray]], session: Any,
                 reader: CalibrationDataReader) -> dict[str, float]:
    """SQNR per output of `session` against `reference` (the fp32 outputs of the same feeds, in order)."""
    acc: dict[str, SQNR] = {}
    for ref, got in zip(reference, run_all(session, reader)):
        for name, value in ref.items():
            acc.setdefault(name, SQNR()).add(value, got[name])
    return {name: a.db for name, a in acc.items()}


def layer_sensitivity(graph: str, model: Any, ranges: Mapping[str, float], reader: CalibrationDataReader, *,
                      threads: int | None = None, log: Log | None = None) -> list[LayerSensitivity]:
    """Every weighted layer of `model` quantized on its own; most sensitive (lowest SQNR) first."""
    reference = run_all(ort_session(model.SerializeToString(), threads), reader)
    results = []
    layers = find_layers(model)
    for number, layer in enumerate(layers):
        quantized = quantize_model(model, ranges, layers=[layer.name])
        per_output = outputs_sqnr(reference, ort_session(quantized.model.SerializeToString(), threads), reader)
        worst = min(per_output.values(), default=math.inf)
        results.append(LayerSensitivity(graph, layer.name, layer.op_type, worst, per_output))
        if log and (number + 1) % 10 == 0:
            log(f"  {graph}: {number + 1}/{len(layers)} layers")
    return rank(results)


def rank(results: Iterable[LayerSensitivity]) -> list[LayerSensitivity]:
    """Most sensitive first; ties keep their order (graph order)."""
    return sorted(results, key=lambda r: r.sqnr_db)


__all__ = ["LayerSensitivity", "layer_sensitivity", "outputs_sqnr", "rank", "run_all"]
