"""Gather the one-off INT8 trials on the first demo model (epoch 4) and the demo model's runs on the two real
camera clips into benches/results/int8_trials.json, read from the reports the commands wrote:

    amma-edge calibrate --model amma_edge/demo/model --data synth-train --out runs/probe/int8-<method> \\
        --method minmax|percentile --no-eval         (entropy is the demo's own model-int8)
    amma-edge eval --model runs/probe/int8-<method> --data synth-test --out runs/probe/eval-int8-<method>
    amma-edge calibrate ... --out runs/probe/int8-auto --keep-float auto --max-drop 1.0 --eval-videos 40
    amma-edge run ../shared/media/<clip>.mp4 --headless --threads 1 --out-dir runs/probe/media-<clip>

Usage: python benches/collect_int8_trials.py [PROBE_DIR]
(entropy on the same model: benches/results/int8_demo.json, written by bench_int8.py before the demo was retrained)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from amma_edge.fileio import atomic_write_text


def frame_map(path: Path) -> float | None:
    return json.loads(path.read_text())["frame_map"]["mAP"] if path.is_file() else None


def main(probe: Path) -> None:
    methods = {m: frame_map(probe / f"eval-int8-{m}" / "eval.json") for m in ("minmax", "percentile")}
    result: dict = {
        "what": "INT8 calibration choices on the epoch-4 demo model (80 test videos, seed 1), and the shipped demo "
                "model on real camera clips",
        "calibration_methods_frame_mAP@0.5": methods,
    }
    auto = probe / "int8-auto" / "calibration_report.json"
    if auto.is_file():
        report = json.loads(auto.read_text())
        result["keep_float_auto"] = {k: report.get(k) for k in ("max_drop", "float_layers", "accuracy",
                                                                 "keep_float_search", "seconds")}
    media = {}
    for summary in sorted(probe.glob("media-*/summary.json")):
        s = json.loads(summary.read_text())
        media[summary.parent.name[len("media-"):]] = {k: s[k] for k in ("model", "precision", "frames", "fps",
                                                                         "tubes_accepted", "threshold")}
        media[summary.parent.name[len("media-"):]]["tubes_above_threshold"] = len(s["tubes"])
    result["real_clips"] = media
    out = Path(__file__).resolve().parent / "results" / "int8_trials.json"
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1)[:3000])


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/probe"))
