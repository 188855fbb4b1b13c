"""Video-mAP: linked tubes against ground-truth tubes by spatio-temporal IoU (ACT `videoAP`).

The detections are the accepted tubes of each video as `TubeLinker` / `link_video` give them, keyed by video
name; videos outside the evaluated list are ignored. Per video and class, tubes first go through tube NMS at
0.3 (ACT's and MOC's `nms3dt(tubes, 0.3)`; YOWO's linking applies the same). Per class, tubes are ranked by
score and matched to the not yet matched ground-truth tubes of their video at tube IoU ≥ threshold — temporal
IoU × mean spatial IoU over the shared frames (`amma_edge.runtime.boxes.tube_iou`). AP then follows the
protocol (`amma_edge.eval.ap`).

Reported: AP at each requested threshold (0.2, 0.5 and 0.75 by default, as AMMA's tables) and the mean of
the mAPs at 0.5, 0.55, …, 0.95 (MOC's `videoAP_all`). Classes with no ground-truth tube in the evaluated
videos are excluded from every mean and listed in `excluded`; a class with ground truth and no detected tube
has AP 0. APs are in percent.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.errors import AmmaEdgeError
from amma_edge.eval.ap import Protocol, average_precision, get_protocol, greedy_match, group_ranks
from amma_edge.eval.frame_map import ClassAP, json_float
from amma_edge.runtime.boxes import tube_iou_matrix, tube_nms
from amma_edge.runtime.linking import LinkedTube

VIDEO_NMS_THRESHOLD = 0.3
DEFAULT_THRESHOLDS = (0.2, 0.5, 0.75)
THRESHOLDS_50_95 = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


@dataclass(frozen=True)
class VideoAPAt:
    threshold: float
    mean_ap: float  # percent; NaN when no class has ground truth
    classes: tuple[ClassAP, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "mAP": json_float(self.mean_ap),
                "per_class": [c.as_dict() for c in self.classes]}


@dataclass(frozen=True)
class VideoMapResult:
    protocol: str
    at: tuple[VideoAPAt, ...]  # one per requested threshold, in the order asked
    map_50_95: float  # mean of the mAPs at 0.5:0.95:0.05
    excluded: tuple[str, ...]

    def mean_ap(self, threshold: float) -> float:
        for entry in self.at:
            if abs(entry.threshold - threshold) < 1e-9:
                return entry.mean_ap
        raise AmmaEdgeError(f"video-mAP was not computed at {threshold}; thresholds: {[e.threshold for e in self.at]}")

    def as_dict(self) -> dict[str, Any]:
        return {"metric": "video-mAP", "protocol": self.protocol, "at": [e.as_dict() for e in self.at],
                "mAP@0.5:0.95": json_float(self.map_50_95), "excluded": list(self.excluded)}


def video_map(
    tubes: Mapping[str, Sequence[LinkedTube]],
    gt: GroundTruth,
    *,
    videos: Sequence[str] | None = None,
    protocol: str | Protocol = "act",
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    nms_threshold: float | None = VIDEO_NMS_THRESHOLD,
) -> VideoMapResult:
    """Video-mAP of linked tubes over `videos` (default: the test videos of split 0)."""
    proto = get_protocol(protocol)
    videos = list(gt.split_videos("test", 0) if videos is None else videos)
    num_classes = len(gt.labels)
    for video in videos:
        for tube in tubes.get(video, []):
            if not 0 <= tube.label < num_classes:
                raise AmmaEdgeError(f"a tube of video {video!r} has label {tube.label}, but the dataset has "
                                    f"{num_classes} labels")
    all_thresholds = sorted({round(float(t), 6) for t in thresholds} | set(THRESHOLDS_50_95))

    ap = {t: [] for t in all_thresholds}
    kept_classes, excluded = [], []
    for c, name in enumerate(gt.labels):
        num_gt, hits_at = _class_hits(c, tubes, gt, videos, proto, all_thresholds, nms_threshold)
        if num_gt == 0:
            excluded.append(name)
            continue
        kept_classes.append(name)
        for t in all_thresholds:
            hits = hits_at[t]
            ap[t].append(ClassAP(name, 100.0 * average_precision(hits, num_gt, proto.ap_rule), num_gt, len(hits)))

    def mean(t: float) -> float:
        return float(np.mean([a.ap for a in ap[t]])) if ap[t] else float("nan")

    at = tuple(VideoAPAt(float(t), mean(round(float(t), 6)), tuple(ap[round(float(t), 6)])) for t in thresholds)
    map_50_95 = float(np.mean([mean(t) for t in THRESHOLDS_50_95])) if kept_classes else float("nan")
    return VideoMapResult(proto.name, at, map_50_95, tuple(excluded))


def _class_hits(
    label: int,
    tubes: Mapping[str, Sequence[LinkedTube]],
    gt: GroundTruth,
    videos: list[str],
    proto: Protocol,
    thresholds: list[float],
    nms_threshold: float | None,
) -> tuple[int, dict[float, np.ndarray]]:
    """Ground-truth count of one class and, per threshold, the hits of its ranked tubes."""
    scores, video_of, iou_rows, slot_rows = [], [], [], []
    num_gt = 0
    for v, video in enumerate(videos):
        gts = [(np.asarray(g)[:, 0], np.asarray(g)[:, 1:5]) for g in gt.gttubes.get(video, {}).get(label, [])
               if len(g)]
        first_slot, num_gt = num_gt, num_gt + len(gts)
        own = [t for t in tubes.get(video, []) if t.label == label]
        if not own:
            continue
        dets = [(t.frames, t.boxes) for t in own]
        det_scores = np.array([t.score for t in own], dtype=np.float64)
        keep = np.arange(len(own)) if nms_threshold is None else \
            np.sort(tube_nms(dets, det_scores, nms_threshold, proto.iou_offset))
        iou_rows.append(tube_iou_matrix([dets[i] for i in keep], gts, proto.iou_offset))
        slot_rows.append(np.broadcast_to(first_slot + np.arange(len(gts)), (len(keep), len(gts))))
        scores.append(det_scores[keep])
        video_of.append(np.full(len(keep), v))
    if not scores:
        return num_gt, {t: np.zeros(0, dtype=bool) for t in thresholds}

    width = max(r.shape[1] for r in iou_rows)
    iou = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=-np.inf) for r in iou_rows])
    slots = np.concatenate([np.pad(s, ((0, 0), (0, width - s.shape[1])), constant_values=-1) for s in slot_rows])
    scores, video_of = np.concatenate(scores), np.concatenate(video_of)
    order = np.lexsort((np.arange(len(scores)), -scores))
    iou, slots, rank = iou[order], slots[order], group_ranks(video_of[order])
    return num_gt, {t: greedy_match(iou, slots, rank, num_gt, t, proto.video_matching) >= 0 for t in thresholds}
