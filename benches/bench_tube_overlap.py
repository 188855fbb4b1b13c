"""Why video-mAP@0.5 is low while video-mAP@0.2 is not: for every ground-truth tube, the linked tube of its
class that overlaps it most in space-time, split into its temporal IoU and its mean box IoU.

Scores a few checkpoints on the same test videos through the evaluation's streaming path (decode, feature
cache, online linking) and writes benches/results/tube_overlap.json. A tube counts at 0.5 only when temporal
IoU × mean box IoU reaches 0.5, so this says which of the two holds the tubes back. The share of ground
truths with a tube at 0.5 is a ceiling on video recall at 0.5: the evaluation's tube NMS can only remove tubes.
Usage: python benches/bench_tube_overlap.py DATA CKPT [CKPT ...] [--videos-per-class N]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.data.loading import load_dataset  # noqa: E402
from amma_edge.eval.detector import load_detector  # noqa: E402
from amma_edge.eval.evaluate import evaluate_amma  # noqa: E402
from amma_edge.fileio import atomic_write_text  # noqa: E402
from amma_edge.runtime.boxes import tube_iou_factors  # noqa: E402


def best_overlaps(tubes, gt_tube: np.ndarray) -> dict | None:
    """The linked tube (of the ground truth's class) with the highest spatio-temporal IoU, and its two factors."""
    frames = gt_tube[:, 0].astype(np.int64)
    best = None
    for tube in tubes:
        temporal, spatial = tube_iou_factors(frames, gt_tube[:, 1:], tube.frames, tube.boxes)
        st = temporal * spatial
        if st > 0 and (best is None or st > best["st_iou"]):
            best = {"st_iou": st, "temporal_iou": temporal, "box_iou": spatial}
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--videos-per-class", type=int, default=3)
    args = parser.parse_args()
    gt, root = load_dataset(args.data)
    videos = gt.split_videos("test", 0)
    per_class: dict[str, list[str]] = {}
    for v in videos:
        per_class.setdefault(v.split("/")[0], []).append(v)
    picked = [v for vs in per_class.values() for v in vs[: args.videos_per_class]]
    result = {"data": str(args.data), "videos": picked, "models": {}}
    for ckpt in args.checkpoints:
        det = load_detector(ckpt, device="cpu", threads=2)
        res = evaluate_amma(det.encode, det.head, det.config, root, gt, videos=picked)
        rows = []
        for v in picked:
            for label, gts in gt.gttubes[v].items():
                for g in gts:
                    best = best_overlaps([t for t in res.tubes[v] if t.label == label], np.asarray(g))
                    rows.append({"video": v, **(best or {"st_iou": 0.0, "temporal_iou": 0.0, "box_iou": 0.0})})
        arr = {k: np.array([r[k] for r in rows]) for k in ("st_iou", "temporal_iou", "box_iou")}
        result["models"][str(ckpt)] = {
            "gt_tubes": len(rows),
            "median": {k: round(float(np.median(a)), 3) for k, a in arr.items()},
            "share_st_iou_at_least_0.5": round(float(np.mean(arr["st_iou"] >= 0.5)), 3),
            "share_temporal_iou_at_least_0.7": round(float(np.mean(arr["temporal_iou"] >= 0.7)), 3),
            "share_box_iou_at_least_0.7": round(float(np.mean(arr["box_iou"] >= 0.7)), 3),
            "frame_mAP@0.5_these_videos": round(float(res.frame.mean_ap), 2),
            "tubes": rows,
        }
        print(ckpt, json.dumps({k: v for k, v in result["models"][str(ckpt)].items() if k != "tubes"}))
    out = Path(__file__).resolve().parent / "results" / "tube_overlap.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
