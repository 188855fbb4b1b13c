"""Average precision from ranked hits, the matching that decides the hits, and the protocols that fix both.

Two protocols, because the literature uses two and their numbers differ:

| rule           | `act`: ACT 2017, MOC 2020, AMMA 2022       | `voc`: YOWO, PASCAL VOC 2010+                 |
| -------------- | ------------------------------------------ | --------------------------------------------- |
| AP             | trapezoids under the raw P-R curve from    | all-point interpolation: area under the       |
|                | (recall 0, precision 1): ACT `pr_to_ap`    | monotone precision envelope                   |
| frame matching | best IoU among the GT boxes not yet        | best IoU among all GT boxes, a false positive |
|                | matched (ACT `frameAP`)                    | if that one is taken (VOC devkit; the         |
|                |                                            | Object-Detection-Metrics code YOWO uses)      |
| video matching | best among the GT tubes not yet matched    | the same (YOWO's `video_mAP`)                 |
| box overlap    | +1 pixel on widths and heights (`iou2d`)   | +1 pixel (VOC devkit)                         |

Both accept a match at IoU ≥ threshold. Detections are ranked by descending score; equal scores keep their
input order (ACT's `np.argsort(-scores)` leaves them to an unstable quicksort).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amma_edge.errors import AmmaEdgeError

GREEDY = "greedy"  # best among the still unmatched ground truth
VOC = "voc"  # best among all ground truth; a taken best is a miss
TRAPEZOID = "trapezoid"
ALL_POINT = "all_point"


@dataclass(frozen=True)
class Protocol:
    name: str
    ap_rule: str
    frame_matching: str
    video_matching: str
    iou_offset: float

    def __post_init__(self) -> None:
        if self.ap_rule not in (TRAPEZOID, ALL_POINT):
            raise AmmaEdgeError(f"AP rule must be {TRAPEZOID!r} or {ALL_POINT!r}, not {self.ap_rule!r}")
        for rule in (self.frame_matching, self.video_matching):
            if rule not in (GREEDY, VOC):
                raise AmmaEdgeError(f"matching rule must be {GREEDY!r} or {VOC!r}, not {rule!r}")


PROTOCOLS: dict[str, Protocol] = {
    "act": Protocol("act", TRAPEZOID, GREEDY, GREEDY, 1.0),
    "voc": Protocol("voc", ALL_POINT, VOC, GREEDY, 1.0),
}


def get_protocol(protocol: str | Protocol) -> Protocol:
    if isinstance(protocol, Protocol):
        return protocol
    if protocol not in PROTOCOLS:
        raise AmmaEdgeError(f"unknown evaluation protocol {protocol!r}: choose one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[protocol]


def precision_recall(hits: np.ndarray, num_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each of the ranked detections: hits (n,) bool → two (n,) arrays."""
    hits = np.asarray(hits, dtype=bool).reshape(-1)
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / num_gt if num_gt > 0 else np.full(len(hits), np.nan)
    return precision, recall


def trapezoid_area(values: np.ndarray, recall: np.ndarray, start: float) -> float:
    """Trapezoids under a curve sampled after each detection, from the point (recall 0, `start`).

    ACT's `pr_to_ap` with `start` = 1 for precision; the error breakdown integrates its error rates with
    `start` = 0.
    """
    v = np.concatenate(([start], np.asarray(values, dtype=np.float64)))
    r = np.concatenate(([0.0], np.asarray(recall, dtype=np.float64)))
    return float(np.sum(np.diff(r) * (v[1:] + v[:-1]) * 0.5))


def all_point_area(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the precision envelope (the best precision at this recall or beyond), VOC 2010+."""
    p = np.concatenate(([0.0], np.asarray(precision, dtype=np.float64), [0.0]))
    r = np.concatenate(([0.0], np.asarray(recall, dtype=np.float64), [1.0]))
    envelope = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum(np.diff(r) * envelope[1:]))


def average_precision(hits: np.ndarray, num_gt: int, rule: str = TRAPEZOID) -> float:
    """AP in [0, 1] of ranked detections; NaN when there is no ground truth (the class has no AP)."""
    if num_gt <= 0:
        return float("nan")
    if len(hits) == 0:
        return 0.0
    precision, recall = precision_recall(hits, num_gt)
    if rule == TRAPEZOID:
        return trapezoid_area(precision, recall, start=1.0)
    if rule == ALL_POINT:
        return all_point_area(precision, recall)
    raise AmmaEdgeError(f"AP rule must be {TRAPEZOID!r} or {ALL_POINT!r}, not {rule!r}")


def greedy_match(
    iou: np.ndarray, slots: np.ndarray, rank: np.ndarray, num_gt: int, threshold: float, rule: str = GREEDY
) -> np.ndarray:
    """Match ranked detections to ground truth, each ground truth at most once: the matched index or −1.

    iou (M, G): the IoU of each detection with the G ground-truth candidates of its group (a frame of a
    class, or a video of a class); slots (M, G): those candidates' global indices in [0, num_gt), −1 for
    padding; rank (M,): the detection's place in its group's score order, 0 first. Groups are independent,
    so all detections of one rank are matched together: the loop runs once per rank, not per detection.
    `rule` is GREEDY (best among the unmatched candidates) or VOC (best among all; taken → no match).
    Among equal IoUs the earlier candidate wins.
    """
    iou = np.asarray(iou, dtype=np.float64)
    slots = np.asarray(slots, dtype=np.int64)
    rank = np.asarray(rank, dtype=np.int64).reshape(-1)
    if rule not in (GREEDY, VOC):
        raise AmmaEdgeError(f"matching rule must be {GREEDY!r} or {VOC!r}, not {rule!r}")
    matched = np.full(len(rank), -1, dtype=np.int64)
    if len(rank) == 0 or iou.shape[1] == 0:
        return matched
    taken = np.zeros(num_gt + 1, dtype=bool)  # the extra last entry stands for padding (slot −1)
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(rank.max() + 2))
    for r in range(rank.max() + 1):
        det = by_rank[bounds[r]:bounds[r + 1]]
        if len(det) == 0:
            continue
        cand_slots = slots[det]
        usable = cand_slots >= 0
        if rule == GREEDY:
            usable &= ~taken[cand_slots]
        cand = np.where(usable, iou[det], -np.inf)
        best = np.argmax(cand, axis=1)
        best_iou = cand[np.arange(len(det)), best]
        best_slot = cand_slots[np.arange(len(det)), best]
        hit = best_iou >= threshold
        if rule == VOC:
            hit &= ~taken[best_slot]
        matched[det[hit]] = best_slot[hit]
        taken[best_slot[hit]] = True
    return matched


def group_ranks(keys: np.ndarray) -> np.ndarray:
    """Place of each element within its key group, keeping the current order: ranked input → (M,) ranks."""
    keys = np.asarray(keys).reshape(-1)
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    starts = np.repeat(first, np.diff(np.concatenate((first, [len(keys)]))))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - starts
    return rank
