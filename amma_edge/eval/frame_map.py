"""Frame-mAP: every detected box on every frame against the ground-truth boxes of that frame (ACT `frameAP`).

Detections are one (M, 8) float array, a row per box:

    (video index, frame, class, score, x1, y1, x2, y2)

video index: the position of the video in the evaluated list (by default the ground truth's test split 0);
frame: 1-based, as in the annotations; boxes in original-frame pixels. Before matching, boxes of one class on
one frame go through greedy NMS at 0.3, as ACT's `load_frame_detections` does (`nms_threshold=None` skips it;
MOC and AMMA instead rescore with a linear soft-NMS at 0.6, which is not implemented here).

Per class, detections are ranked by score and matched to the unmatched ground truth of their frame at
IoU ≥ `iou_threshold` (see `amma_edge.eval.ap` for the protocol rules); AP follows from the ranked hits.
A class without any ground-truth box in the evaluated videos has no AP: it is left out of the mean and named
in `excluded` (ACT would divide by zero). A class with ground truth and no detection has AP 0. APs are in
percent, as the papers print them.

`tubelet_frame_detections` turns decoded tubelets into such rows the way AMMA's streaming evaluation does:
each tubelet gives a box at each of its clip ends and, between them, the linear interpolation — so
frame-mAP measures the tubelets, independently of linking (AMMA §4.1).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.errors import AmmaEdgeError, InputShapeError
from amma_edge.eval.ap import Protocol, average_precision, get_protocol, greedy_match, group_ranks
from amma_edge.runtime.boxes import nms, paired_iou
from amma_edge.runtime.decode import Tubelets
from amma_edge.runtime.streaming import frame_rows, interpolate_boxes

FRAME_NMS_THRESHOLD = 0.3  # ACT.py: load_frame_detections(d, vlist, dirname, 0.3)
DETECTION_COLUMNS = ("video", "frame", "label", "score", "x1", "y1", "x2", "y2")


@dataclass(frozen=True)
class ClassAP:
    label: str
    ap: float  # percent
    num_gt: int
    num_detections: int

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "ap": json_float(self.ap), "num_gt": self.num_gt,
                "num_detections": self.num_detections}


@dataclass(frozen=True)
class FrameMapResult:
    protocol: str
    iou_threshold: float
    mean_ap: float  # percent, over `classes`; NaN when no class has ground truth
    classes: tuple[ClassAP, ...]
    excluded: tuple[str, ...]  # labels with no ground truth in the evaluated videos

    def as_dict(self) -> dict[str, Any]:
        return {"metric": "frame-mAP", "protocol": self.protocol, "iou_threshold": self.iou_threshold,
                "mAP": json_float(self.mean_ap), "per_class": [c.as_dict() for c in self.classes],
                "excluded": list(self.excluded)}


@dataclass(frozen=True, eq=False)
class GroundTruthFrames:
    """Every ground-truth box of the evaluated videos, one row each: video index (P,), frame (P,),
    label (P,), boxes (P, 4); and video_labels (V, C): whether a video has a tube of a class."""

    video: np.ndarray
    frame: np.ndarray
    label: np.ndarray
    boxes: np.ndarray
    video_labels: np.ndarray


@dataclass(frozen=True, eq=False)
class FrameMatches:
    """Detections after NMS in evaluation order (class, then descending score, then input order), (M, 8);
    matched (M,): the ground-truth row each one matched, or −1; has_class_gt (M,): whether its frame has a
    ground-truth box of its class; class_bounds (C + 1,): class c owns rows class_bounds[c]:class_bounds[c+1];
    num_gt (C,): ground-truth boxes per class."""

    detections: np.ndarray
    matched: np.ndarray
    has_class_gt: np.ndarray
    class_bounds: np.ndarray
    num_gt: np.ndarray
    gt: GroundTruthFrames
    protocol: Protocol


def ground_truth_frames(gt: GroundTruth, videos: Sequence[str]) -> GroundTruthFrames:
    """The ground-truth boxes of `videos` as flat arrays, video indices following the order of `videos`."""
    num_classes = len(gt.labels)
    parts, labels_of = [], np.zeros((len(videos), num_classes), dtype=bool)
    for v, video in enumerate(videos):
        for label, tubes in gt.gttubes.get(video, {}).items():
            for tube in tubes:
                tube = np.asarray(tube, dtype=np.float64).reshape(-1, 5)
                if len(tube) == 0:
                    continue
                if not 0 <= label < num_classes:
                    raise AmmaEdgeError(f"video {video!r} has a tube of label {label}, but the dataset has "
                                        f"{num_classes} labels")
                labels_of[v, label] = True
                parts.append(np.column_stack([np.full(len(tube), v), tube[:, 0], np.full(len(tube), label),
                                              tube[:, 1:5]]))
    table = np.concatenate(parts) if parts else np.zeros((0, 7))
    return GroundTruthFrames(table[:, 0].astype(np.int64), np.rint(table[:, 1]).astype(np.int64),
                             table[:, 2].astype(np.int64), table[:, 3:7], labels_of)


def keyed_candidates(
    det_keys: np.ndarray, det_boxes: np.ndarray, gt_keys: np.ndarray, gt_boxes: np.ndarray, offset: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each detection, the IoU with each ground-truth box of the same key: iou (M, G), −inf for padding,
    and the boxes' row numbers, slots (M, G), −1 for padding; G is the most boxes any key has."""
    m = len(det_keys)
    order = np.argsort(gt_keys, kind="stable")
    keys, start, count = np.unique(gt_keys[order], return_index=True, return_counts=True)
    if len(keys) == 0 or m == 0:
        return np.zeros((m, 0)), np.zeros((m, 0), dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, det_keys), len(keys) - 1)
    found = keys[pos] == det_keys
    width = np.arange(count.max())
    valid = found[:, None] & (width[None, :] < count[pos][:, None])
    rows = order[np.minimum(start[pos][:, None] + width[None, :], len(order) - 1)]
    iou = paired_iou(det_boxes[:, None, :], gt_boxes[rows], offset)
    return np.where(valid, iou, -np.inf), np.where(valid, rows, -1)


def match_frame_detections(
    detections: np.ndarray,
    gt: GroundTruth,
    *,
    videos: Sequence[str] | None = None,
    protocol: str | Protocol = "act",
    iou_threshold: float = 0.5,
    nms_threshold: float | None = FRAME_NMS_THRESHOLD,
) -> FrameMatches:
    """NMS, ranking and matching shared by `frame_map` and the error breakdown."""
    proto = get_protocol(protocol)
    videos = list(gt.split_videos("test", 0) if videos is None else videos)
    num_classes = len(gt.labels)
    dets = _check_detections(detections, len(videos), num_classes)
    table = ground_truth_frames(gt, videos)

    frame = np.rint(dets[:, 1]).astype(np.int64)
    label = dets[:, 2].astype(np.int64)
    span = int(max(frame.max(initial=0), table.frame.max(initial=0))) + 1
    det_keys = (label * len(videos) + dets[:, 0].astype(np.int64)) * span + frame
    if nms_threshold is not None:
        kept = nms(dets[:, 4:8], dets[:, 3], nms_threshold, groups=det_keys, offset=proto.iou_offset)
        kept.sort()
        dets, det_keys, label = dets[kept], det_keys[kept], label[kept]
    order = np.lexsort((np.arange(len(dets)), -dets[:, 3], label))
    dets, det_keys, label = dets[order], det_keys[order], label[order]

    gt_keys = (table.label * len(videos) + table.video) * span + table.frame
    iou, slots = keyed_candidates(det_keys, dets[:, 4:8], gt_keys, table.boxes, proto.iou_offset)
    matched = greedy_match(iou, slots, group_ranks(det_keys), len(table.label), iou_threshold,
                           proto.frame_matching)
    has_class_gt = np.any(slots >= 0, axis=1)
    bounds = np.searchsorted(label, np.arange(num_classes + 1))
    num_gt = np.bincount(table.label, minlength=num_classes)
    return FrameMatches(dets, matched, has_class_gt, bounds, num_gt, table, proto)


def frame_map(
    detections: np.ndarray,
    gt: GroundTruth,
    *,
    videos: Sequence[str] | None = None,
    protocol: str | Protocol = "act",
    iou_threshold: float = 0.5,
    nms_threshold: float | None = FRAME_NMS_THRESHOLD,
) -> FrameMapResult:
    """Frame-mAP of (M, 8) detections over `videos` (default: the test videos of split 0)."""
    fm = match_frame_detections(detections, gt, videos=videos, protocol=protocol,
                                iou_threshold=iou_threshold, nms_threshold=nms_threshold)
    classes, excluded = [], []
    for c, name in enumerate(gt.labels):
        if fm.num_gt[c] == 0:
            excluded.append(name)
            continue
        hits = fm.matched[fm.class_bounds[c]:fm.class_bounds[c + 1]] >= 0
        ap = 100.0 * average_precision(hits, int(fm.num_gt[c]), fm.protocol.ap_rule)
        classes.append(ClassAP(name, ap, int(fm.num_gt[c]), len(hits)))
    mean = float(np.mean([c.ap for c in classes])) if classes else float("nan")
    return FrameMapResult(fm.protocol.name, iou_threshold, mean, tuple(classes), tuple(excluded))


def tubelet_frame_detections(
    video_index: int, frames: np.ndarray, tubelets: Tubelets, *, interpolate: bool = True
) -> np.ndarray:
    """Frame-mAP rows (M, 8) from the tubelets of one step with clip-end `frames` (K,).

    Each tubelet gives its box at each clip end and, with `interpolate`, the linear interpolation at every
    frame in between, with the tubelet's score. Rows are tubelet-major, frames increasing. The interpolation
    is the stream's (`amma_edge.runtime.streaming.interpolate_boxes`), so these rows are the ones
    `StreamStep.frame_detections` gives for the same frames.
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    K = tubelets.K
    if len(frames) != K:
        raise InputShapeError(f"one frame per clip end is needed: {K} expected, got {len(frames)}")
    if np.any(np.diff(frames) <= 0):
        raise AmmaEdgeError(f"the clip-end frames must increase, got {frames.tolist()}")
    if not interpolate or K < 2:
        return frame_rows(video_index, frames, tubelets, tubelets.boxes.astype(np.float64))
    every = np.arange(frames[0], frames[-1] + 1)
    return frame_rows(video_index, every, tubelets, interpolate_boxes(frames, tubelets.boxes, every))


def _check_detections(detections: np.ndarray, num_videos: int, num_classes: int) -> np.ndarray:
    dets = np.asarray(detections, dtype=np.float64)
    if dets.size == 0:
        return np.zeros((0, 8))
    if dets.ndim != 2 or dets.shape[1] != 8:
        raise InputShapeError(f"frame detections must be (M, 8) rows of {DETECTION_COLUMNS}; got {dets.shape}")
    video, label = dets[:, 0], dets[:, 2]
    if np.any((video < 0) | (video >= num_videos) | (video != np.rint(video))):
        raise AmmaEdgeError(f"frame detections name video indices outside 0..{num_videos - 1}: column 0 is the "
                            "position of the video in the evaluated list")
    if np.any((label < 0) | (label >= num_classes) | (label != np.rint(label))):
        raise AmmaEdgeError(f"frame detections name classes outside 0..{num_classes - 1}")
    return dets


def json_float(x: float) -> float | None:
    """NaN (no AP) as None, which JSON can carry."""
    return None if math.isnan(x) else float(x)
