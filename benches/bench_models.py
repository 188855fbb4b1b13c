"""The model zoo against the papers' published sizes → benches/results/models.json.

Counts parameters and GMACs of every preset at its default setting, and of the AMMA presets in the
setting of the paper's Table 3 (JHMDB-21: K = 5, 21 classes, 288×288, t = 4) beside the published figures.
Run: PYTHONPATH=. .venv/bin/python benches/bench_models.py
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from amma_edge.fileio import atomic_write_text
from amma_edge.models import get_config, preset_names
from amma_edge.models.complexity import MAC_CONVENTION, measure

PAPER_TABLE_3 = {"amma-r18": (15.8, 5.2), "amma-m": (6.8, 1.3), "amma-s": (6.0, 1.0)}
PAPER_X3D_M = (3.79, 4.73)  # X3D paper: params (M), GFLOPs with one multiply-add as one FLOP, 16×224×224


def main() -> Path:
    presets = [measure(get_config(name)).as_dict() for name in preset_names()]
    table_3 = []
    for name, (params_m, gmacs) in PAPER_TABLE_3.items():
        r = measure(get_config(name, K=5, num_classes=21))
        table_3.append({
            "model": name,
            "params_m": round(r.params / 1e6, 3), "paper_params_m": params_m,
            "gmacs_per_clip": round(r.paper_macs_per_clip / 1e9, 3), "paper_gmacs_per_clip": gmacs,
            "gmacs_streaming": round(r.stream_macs / 1e9, 3),
        })
    result = {
        "bench": "models",
        "convention": MAC_CONVENTION,
        "presets": presets,
        "amma_table_3_setting": table_3,
        "paper_x3d_m": {"params_m": PAPER_X3D_M[0], "gmacs": PAPER_X3D_M[1]},
        "machine": {"python": platform.python_version(), "torch": torch.__version__},
    }
    out = Path(__file__).parent / "results" / "models.json"
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    return out


if __name__ == "__main__":
    print(main())
