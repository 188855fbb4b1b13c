"""Per-class precision-recall curves of frame detections, from the same matching that frame-mAP uses.

Kept apart from `frame_map` so the metric itself stays a number; the curves are for people (the PR plot of
`amma-edge eval`) and would double its memory if every result carried them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.eval.ap import precision_recall
from amma_edge.eval.frame_map import match_frame_detections


@dataclass(frozen=True)
class PRCurve:
    label: str
    precision: np.ndarray  # (n,) after each ranked detection
    recall: np.ndarray  # (n,)
    num_gt: int


def frame_pr_curves(
    detections: np.ndarray,
    gt: GroundTruth,
    *,
    videos: Sequence[str] | None = None,
    protocol: str = "act",
    iou_threshold: float = 0.5,
) -> list[PRCurve]:
    """One curve per class with ground truth in `videos`, in label order."""
    fm = match_frame_detections(detections, gt, videos=videos, protocol=protocol, iou_threshold=iou_threshold)
    curves = []
    for c, name in enumerate(gt.labels):
        if fm.num_gt[c] == 0:
            continue
        hits = fm.matched[fm.class_bounds[c]:fm.class_bounds[c + 1]] >= 0
        precision, recall = precision_recall(hits, int(fm.num_gt[c]))
        curves.append(PRCurve(name, precision, recall, int(fm.num_gt[c])))
    return curves
