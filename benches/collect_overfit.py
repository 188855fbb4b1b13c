"""Record the A* overfitting check (stage astar-overfit of benches/recipes/synthetic.sh) in
benches/results/astar_overfit.json: what the run was, how its losses ended, and how it scores on the very
videos it trained on: how fast the model fits what it sees, apart from how well it generalises. A low
score at a few hundred steps says A* is slow to fit; whether it is slow or broken takes a longer run.
The run and its scores are read as benches/collect_training.py reads the main experiments'.
Usage: python benches/collect_overfit.py RUN_DIR [STAGE]
STAGE (default astar-overfit) names the recipe stage that made the run; another stage's record goes to
benches/results/<stage with _ for ->.json, so each variant of the check keeps its own file.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collect_training import read_eval, read_log  # noqa: E402  (beside this script)

from amma_edge.fileio import atomic_write_text  # noqa: E402
from amma_edge.train.losses import LOSS_PARTS  # noqa: E402
from amma_edge.train.progress import read_log as read_records  # noqa: E402


def main(run: Path, stage: str = "astar-overfit") -> None:
    first_step = next(r for r in read_records(run / "log.jsonl") if r["event"] == "step")
    scores = read_eval(run / "eval-train" / "eval.json")
    scores["videos"] = scores.pop("test_videos")  # these are the training videos
    result = {"what": "A* fitted to 8 training videos for 400 steps, scored on the same 8 "
                      f"(benches/recipes/synthetic.sh {stage})",
              **read_log(run / "log.jsonl"),
              "first_logged_losses": {k: first_step[k] for k in ("loss", *LOSS_PARTS["astar"])},
              "scored_on_split": "train", "train_split_scores": scores}
    out = Path(__file__).resolve().parent / "results" / f"{stage.replace('-', '_')}.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"frame-mAP@0.5 on its own training videos {result['train_split_scores']['frame_mAP@0.5']:.2f}; wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), *sys.argv[2:])
