"""How far apart a tubelet's boxes may be: the ground truth itself, read only at the clip ends a stream
produces and interpolated in between, scored against the ground truth of every frame.

An AMMA stream with clips spanning s frames (t · frame_step) reports boxes at its clip ends s, 2s, … and
gives the frames in between the runtime's linear interpolation (`amma_edge.runtime.streaming.
interpolate_boxes`); frames after the last clip end get no box. A perfect detector is then still wrong
wherever a box changes faster than linearly over s frames: a runner's legs open and close about every 8
frames, a fall topples the body in a second. This bench measures that ceiling per class: the share of
ground-truth boxes that the interpolated ground truth overlaps at IoU >= 0.5 (the frame-AP protocol's
threshold), for each span. It needs no model, so it separates what the spacing costs from what training
costs. Where a clip end falls outside a tube (the action starts or ends between two clip ends) the tube's
nearest annotated box stands in for the box there, as the person is still there, unannotated.
Usage: python benches/bench_box_spacing.py DATA [--spans 1,2,4,8,12,16] [--split test]
Writes benches/results/box_spacing.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.data.loading import load_dataset  # noqa: E402
from amma_edge.fileio import atomic_write_text  # noqa: E402
from amma_edge.runtime.boxes import paired_iou  # noqa: E402
from amma_edge.runtime.streaming import clip_ends_for, interpolate_boxes  # noqa: E402

IOU = 0.5


def tube_ious(tube: np.ndarray, nframes: int, span: int) -> np.ndarray:
    """IoU with the ground truth of each annotated frame of `tube` (N, 5) when only its boxes at the clip
    ends of span `span` are known; 0 for frames after the last clip end (a stream scores none there)."""
    tube = tube[np.argsort(tube[:, 0])]
    frames, boxes = tube[:, 0].astype(np.int64), tube[:, 1:5].astype(np.float64)
    ends = np.array(clip_ends_for(nframes, span), dtype=np.int64)
    if len(ends) == 0:
        return np.zeros(len(frames))
    # The box at each clip end: the tube's own where annotated, else its nearest annotated frame's.
    nearest = np.clip(np.searchsorted(frames, ends), 0, len(frames) - 1)
    before = np.clip(nearest - 1, 0, len(frames) - 1)
    pick = np.where(np.abs(frames[before] - ends) <= np.abs(frames[nearest] - ends), before, nearest)
    at_ends = boxes[pick]
    estimate = interpolate_boxes(ends, at_ends[None], frames)[0]
    ious = paired_iou(estimate, boxes)
    ious[frames > ends[-1]] = 0.0
    return ious


def measure(data: Path, spans: list[int], split: str) -> dict:
    gt, _ = load_dataset(data)
    videos = gt.split_videos(split, 0)
    per_class: dict[str, dict[str, list[float]]] = {label: {str(s): [] for s in spans} for label in gt.labels}
    for video in videos:
        for label, tubes in gt.gttubes.get(video, {}).items():
            for tube in tubes:
                for s in spans:
                    per_class[gt.labels[label]][str(s)].extend(tube_ious(np.asarray(tube), gt.nframes[video], s))
    table = {}
    for label, by_span in per_class.items():
        if not by_span[str(spans[0])]:
            continue
        table[label] = {s: {"boxes": len(v), "share_iou_ge_0.5": round(float(np.mean(np.array(v) >= IOU)) * 100, 2),
                            "mean_iou": round(float(np.mean(v)), 4)} for s, v in by_span.items()}
    mean = {str(s): round(float(np.mean([table[c][str(s)]["share_iou_ge_0.5"] for c in table])), 2) for s in spans}
    return {"data": str(data), "split": split, "videos": len(videos), "iou": IOU, "spans": spans,
            "per_class": table, "class_mean_share_iou_ge_0.5": mean}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--spans", default="1,2,4,8,12,16")
    parser.add_argument("--split", default="test", choices=("train", "test"))
    args = parser.parse_args()
    spans = [int(s) for s in args.spans.split(",")]
    if any(s < 1 for s in spans):
        sys.exit(f"--spans must be whole numbers of frames, at least 1; got {args.spans}")
    result = measure(args.data, spans, args.split)
    out = Path(__file__).resolve().parent / "results" / "box_spacing.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    header = "class      " + "".join(f"  span {s:>2}" for s in spans)
    print(f"share of ground-truth boxes the interpolated ground truth overlaps at IoU >= {IOU} (%)\n{header}")
    for label, row in {**result["per_class"], "mean": None}.items():
        values = result["class_mean_share_iou_ge_0.5"] if row is None else {s: row[s]["share_iou_ge_0.5"] for s in row}
        print(f"{label:<11}" + "".join(f"  {values[str(s)]:7.2f}" for s in spans))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
