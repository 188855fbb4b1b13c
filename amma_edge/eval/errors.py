"""ACT's five-way frame-mAP error breakdown (ACT `frameAP_error`; AMMA §4.2, Fig. 7).

Each false positive of class c, in rank order, falls in exactly one category (threshold θ = 0.5):

- localization E_L: its frame has a ground-truth box of class c, yet it matched none — IoU < θ with every
  still unmatched one, or a duplicate of a box already matched. (ACT sets no lower IoU bound.)
- classification E_C: its frame has no box of class c, but one of another class with IoU ≥ θ.
- other E_O: its frame has no box of class c and no other-class box with IoU ≥ θ; or its frame has no box
  at all and the video has no tube of class c.
- time E_T: its frame has no ground-truth box at all, but the video has a tube of class c elsewhere in time.

After each detection the share of each category among the detections so far is an error-rate curve over
recall; E_X is the trapezoid area under it (as AP is under precision), and the missed detections are
E_M = 100 − 100·final recall. Because precision and the four shares add up to 1 at every rank, the
trapezoids add up to the final recall, and AP + E_L + E_C + E_T + E_O + E_M = 100 for every class — the
identity AMMA §4.2 states. It needs ACT's raw-curve AP, so the breakdown always uses the `act` protocol.
All numbers are in percent; classes without ground truth are excluded, as in `frame_map`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.eval.ap import precision_recall, trapezoid_area
from amma_edge.eval.frame_map import FRAME_NMS_THRESHOLD, json_float, keyed_candidates, match_frame_detections

TRUE_POSITIVE, LOCALIZATION, CLASSIFICATION, TIME, OTHER = range(5)


@dataclass(frozen=True)
class ClassErrors:
    """AP and the five error rates of one class, in percent; they add up to 100."""

    label: str
    ap: float
    localization: float
    classification: float
    time: float
    other: float
    missed: float
    num_gt: int
    num_detections: int

    @property
    def total(self) -> float:
        return self.ap + self.localization + self.classification + self.time + self.other + self.missed

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (json_float(v) if isinstance(v, float) else v)
                for f in fields(self) for v in [getattr(self, f.name)]}


@dataclass(frozen=True)
class ErrorBreakdownResult:
    iou_threshold: float
    classes: tuple[ClassErrors, ...]
    excluded: tuple[str, ...]
    mean: ClassErrors  # label "mean": the mean of each column over `classes`; counts are totals

    def as_dict(self) -> dict[str, Any]:
        return {"metric": "frame-mAP error breakdown", "protocol": "act", "iou_threshold": self.iou_threshold,
                "mean": self.mean.as_dict(), "per_class": [c.as_dict() for c in self.classes],
                "excluded": list(self.excluded)}


def error_categories(
    detections: np.ndarray,
    gt: GroundTruth,
    *,
    videos: Sequence[str] | None = None,
    iou_threshold: float = 0.5,
    nms_threshold: float | None = FRAME_NMS_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The category of every detection after NMS: (detections (M, 8) in evaluation order, category (M,)
    int with TRUE_POSITIVE … OTHER, class_bounds (C + 1,), num_gt (C,))."""
    fm = match_frame_detections(detections, gt, videos=videos, protocol="act", iou_threshold=iou_threshold,
                                nms_threshold=nms_threshold)
    dets, table = fm.detections, fm.gt
    category = np.full(len(dets), OTHER, dtype=np.int64)
    category[fm.matched >= 0] = TRUE_POSITIVE
    category[(fm.matched < 0) & fm.has_class_gt] = LOCALIZATION

    elsewhere = np.flatnonzero(~fm.has_class_gt)
    video = dets[elsewhere, 0].astype(np.int64)
    frame = np.rint(dets[elsewhere, 1]).astype(np.int64)
    span = int(max(frame.max(initial=0), table.frame.max(initial=0))) + 1
    iou, slots = keyed_candidates(video * span + frame, dets[elsewhere, 4:8], table.video * span + table.frame,
                                  table.boxes, fm.protocol.iou_offset)
    frame_has_gt = np.any(slots >= 0, axis=1)
    overlaps_other = frame_has_gt & (np.max(iou, axis=1, initial=-np.inf) >= iou_threshold)
    video_has_class = table.video_labels[video, dets[elsewhere, 2].astype(np.int64)] if len(video) else \
        np.zeros(0, dtype=bool)
    category[elsewhere[overlaps_other]] = CLASSIFICATION
    category[elsewhere[~frame_has_gt & video_has_class]] = TIME
    return dets, category, fm.class_bounds, fm.num_gt


def frame_error_breakdown(
    detections: np.ndarray,
    gt: GroundTruth,
    *,
    videos: Sequence[str] | None = None,
    iou_threshold: float = 0.5,
    nms_threshold: float | None = FRAME_NMS_THRESHOLD,
) -> ErrorBreakdownResult:
    """ACT's error breakdown of (M, 8) frame detections (the `frame_map` layout) over `videos`."""
    _, category, bounds, num_gt = error_categories(detections, gt, videos=videos, iou_threshold=iou_threshold,
                                                   nms_threshold=nms_threshold)
    classes, excluded = [], []
    for c, name in enumerate(gt.labels):
        if num_gt[c] == 0:
            excluded.append(name)
            continue
        cat = category[bounds[c]:bounds[c + 1]]
        precision, recall = precision_recall(cat == TRUE_POSITIVE, int(num_gt[c]))
        seen = np.arange(1, len(cat) + 1)
        rates = [100.0 * trapezoid_area(np.cumsum(cat == k) / seen, recall, start=0.0)
                 for k in (LOCALIZATION, CLASSIFICATION, TIME, OTHER)]
        ap = 100.0 * trapezoid_area(precision, recall, start=1.0)
        missed = 100.0 - 100.0 * (float(recall[-1]) if len(cat) else 0.0)
        classes.append(ClassErrors(name, ap, *rates, missed, int(num_gt[c]), len(cat)))
    return ErrorBreakdownResult(iou_threshold, tuple(classes), tuple(excluded), _mean(classes))


def _mean(classes: list[ClassErrors]) -> ClassErrors:
    def avg(name: str) -> float:
        return float(np.mean([getattr(c, name) for c in classes])) if classes else float("nan")

    return ClassErrors("mean", avg("ap"), avg("localization"), avg("classification"), avg("time"), avg("other"),
                       avg("missed"), sum(c.num_gt for c in classes), sum(c.num_detections for c in classes))
