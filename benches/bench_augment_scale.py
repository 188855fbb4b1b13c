"""How large the training augmentation shows people, relative to their recorded size, with and without the
SSD-style zoom-out and crop (`TrainConfig.expand_crop`).

The geometric augmentation only picks a view of the source frame that is then resized to the input size
(`amma_edge.data.augment.sample_view`), so a person's shown size relative to the plain resize (no
augmentation) is the frame side over the view side: sqrt((W / w) * (H / h)) for a view of w x h pixels of a
W x H frame. Zoom-out (expand) makes it smaller, a crop larger, and the jitters move it by up to ±20 %.
Each draw takes a random training video and frame and the boxes of every tube there, because a crop is only
accepted when it keeps every box centre inside. It needs no model and no image decoding: seconds, not
minutes, and it tells whether training ever shows people at the sizes the test videos hold.
Usage: python benches/bench_augment_scale.py DATA [--draws 20000] [--seed 0]
Writes benches/results/augment_scale.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.data.augment import AugmentConfig, sample_view  # noqa: E402
from amma_edge.data.loading import load_dataset  # noqa: E402
from amma_edge.fileio import atomic_write_text  # noqa: E402

CONFIGS = {"default": AugmentConfig.training(expand_crop=True), "expand_crop_off": AugmentConfig.training(expand_crop=False)}
PERCENTILES = (5, 25, 50, 75, 95)
# Shares of draws below and above these size ratios.
BELOW = (0.48, 0.67)
ABOVE = (1.5,)


def frame_boxes(data: Path, split: str) -> list[tuple[tuple[int, int], np.ndarray]]:
    """(frame size, boxes of every tube there) for every annotated frame of the split."""
    gt, _ = load_dataset(data)
    out = []
    for video in gt.split_videos(split, 0):
        by_frame: dict[int, list[np.ndarray]] = {}
        for tubes in gt.gttubes.get(video, {}).values():
            for tube in tubes:
                for row in np.asarray(tube):
                    by_frame.setdefault(int(row[0]), []).append(row[1:5])
        out.extend((gt.resolution[video], np.stack(boxes)) for boxes in by_frame.values())
    if not out:
        sys.exit(f"{data} has no annotated boxes in its {split} split: give a dataset with action tubes")
    return out


def size_ratios(frames: list[tuple[tuple[int, int], np.ndarray]], config: AugmentConfig, draws: int,
                seed: int) -> np.ndarray:
    """Shown size over recorded size for `draws` views drawn as training draws them."""
    rng = np.random.default_rng(seed)
    ratios = np.empty(draws)
    for i, pick in enumerate(rng.integers(0, len(frames), size=draws)):
        (height, width), boxes = frames[pick]
        view = sample_view((height, width), boxes, config, rng)
        ratios[i] = np.sqrt((width / view.w) * (height / view.h))
    return ratios


def summarise(ratios: np.ndarray) -> dict:
    return {"percentiles": {str(p): round(float(np.percentile(ratios, p)), 3) for p in PERCENTILES},
            "share_below_pct": {str(b): round(float(np.mean(ratios < b)) * 100, 2) for b in BELOW},
            "share_above_pct": {str(a): round(float(np.mean(ratios > a)) * 100, 2) for a in ABOVE}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a dataset folder (e.g. runs/s3/synth-train)")
    parser.add_argument("--draws", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="train", choices=("train", "test"))
    args = parser.parse_args()
    if args.draws < 1:
        sys.exit(f"--draws must be at least 1, got {args.draws}")
    frames = frame_boxes(args.data, args.split)
    result = {"data": str(args.data), "split": args.split, "draws": args.draws, "seed": args.seed,
              "annotated_frames": len(frames), "measure": "sqrt((W / view_w) * (H / view_h))",
              "configs": {name: summarise(size_ratios(frames, config, args.draws, args.seed))
                          for name, config in CONFIGS.items()}}
    out = Path(__file__).resolve().parent / "results" / "augment_scale.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"shown size / recorded size over {args.draws} draws ({len(frames)} annotated frames)")
    print("config            " + "".join(f"   p{p:<3}" for p in PERCENTILES) + "  <0.48  <0.67  >1.5 (%)")
    for name, s in result["configs"].items():
        print(f"{name:<18}" + "".join(f"  {s['percentiles'][str(p)]:5.2f}" for p in PERCENTILES)
              + f"  {s['share_below_pct']['0.48']:5.1f}  {s['share_below_pct']['0.67']:5.1f}"
              + f"  {s['share_above_pct']['1.5']:4.1f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
