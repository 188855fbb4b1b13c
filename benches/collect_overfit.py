"""Record the A* overfitting check (stage astar-overfit of benches/recipes/synthetic.sh) in
benches/results/astar_overfit.json: what the run was, how its losses ended, and how it scores on the very
videos it trained on: how fast the model fits what it sees, apart from how well it generalises. A low
score at a few hundred steps says A* is slow to fit; whether it is slow or broken takes a longer run.
Usage: python benches/collect_overfit.py RUN_DIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.fileio import atomic_write_text  # noqa: E402


def main(run: Path) -> None:
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    start = next(r for r in records if r["event"] == "start")
    epochs = [r for r in records if r["event"] == "epoch"]
    report = json.loads((run / "eval-train" / "eval.json").read_text())
    steps = [r for r in records if r["event"] == "step"]
    result = {
        "what": "A* fitted to 8 training videos for 400 steps, scored on the same 8 (benches/recipes/synthetic.sh astar-overfit)",
        "train_config": start["train_config"], "model_config": start["model_config"], "precision": start.get("precision"),
        "train_minutes": round((records[-1]["time"] - start["time"]) / 60, 1),
        "first_logged_losses": {k: round(v, 4) for k, v in steps[0].items() if k in ("loss", "objectness", "classes", "box", "pal")},
        "last_epoch": {k: round(v, 4) if isinstance(v, float) else v for k, v in epochs[-1].items() if k != "time"},
        "scored_on": {"data": report["data"], "split": report["split"], "videos": report["videos"]},
        "frame_mAP@0.5": round(report["frame_map"]["mAP"], 2),
        "frame_AP_per_class": {c["label"]: round(c["ap"], 2) for c in report["frame_map"]["per_class"]},
        "video_mAP": {f"{e['threshold']:g}": round(e["mAP"], 2) for e in report["video_map"]["at"]},
        "error_breakdown_mean": {k: round(v, 2) if isinstance(v, float) else v
                                 for k, v in report["error_breakdown"]["mean"].items()},
    }
    out = Path(__file__).resolve().parent / "results" / "astar_overfit.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"frame-mAP@0.5 on its own training videos {result['frame_mAP@0.5']}; wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
