"""Overlap kernels for boxes, tubelets and tubes, and the greedy suppression built on them.

Boxes are (x1, y1, x2, y2). With `offset=0` they are continuous coordinates and a box's area is
(x2 − x1)·(y2 − y1), which is what the decoder produces. With `offset=1` they are inclusive pixel indices
and the area is (x2 − x1 + 1)·(y2 − y1 + 1): the convention of ACT's `iou2d` and of the PASCAL VOC devkit,
which the evaluation protocols keep so that their numbers compare with published ones.

A tubelet is K boxes at K frames, (K, 4) with a frame vector (K,); a tube is T boxes at T frames. Frame
numbers are integers and are how tubelets and tubes line up in time: two tubelets are compared on the
frames they share, whatever their K.

`box_iou`, `aligned_tubelet_iou` and `nms` (the linker's per-step work) run as C kernels when the extension is
built (amma_edge.runtime.native), with the NumPy twins in `reference` otherwise; both give identical numbers.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from amma_edge.errors import InputShapeError
from amma_edge.runtime import native
from amma_edge.runtime.reference import paired_iou_values


def box_area(boxes: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """Area of each box in (..., 4); a box with x2 < x1 − offset (or the same in y) has area 0."""
    boxes = np.asarray(boxes, dtype=np.float64)
    w = np.maximum(boxes[..., 2] - boxes[..., 0] + offset, 0.0)
    h = np.maximum(boxes[..., 3] - boxes[..., 1] + offset, 0.0)
    return w * h


def paired_iou(a: np.ndarray, b: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """IoU of a[i] with b[i] for broadcastable (..., 4) arrays; 0 where the union is empty."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape[-1] != 4 or b.shape[-1] != 4:
        raise InputShapeError(f"boxes must end in 4 coordinates (x1, y1, x2, y2); got {a.shape} and {b.shape}")
    return paired_iou_values(a, b, offset)


def box_iou(a: np.ndarray, b: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """Pairwise IoU of two box sets: (N, 4) × (M, 4) → (N, M)."""
    a = np.ascontiguousarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.ascontiguousarray(b, dtype=np.float64).reshape(-1, 4)
    out = np.empty((len(a), len(b)))
    native.box_iou(a, b, out, offset)
    return out


def tubelet_iou(
    a: np.ndarray, frames_a: np.ndarray, b: np.ndarray, frames_b: np.ndarray, offset: float = 0.0
) -> np.ndarray:
    """Mean IoU over the frames two sets of tubelets share: (Na, Ka, 4) × (Nb, Kb, 4) → (Na, Nb).

    This is what the linker thresholds: a new tubelet continues a tube when it agrees with the tube's last
    tubelet where both exist in time. Zero when they share no frame; whether they overlap in time at all is
    a property of the frame vectors alone, which the caller checks.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    fa = np.asarray(frames_a).reshape(-1)
    fb = np.asarray(frames_b).reshape(-1)
    if a.ndim != 3 or a.shape[1:] != (len(fa), 4) or b.ndim != 3 or b.shape[1:] != (len(fb), 4):
        raise InputShapeError(
            f"tubelets must be (N, K, 4) with one frame number per K; got {a.shape} with {len(fa)} frames "
            f"and {b.shape} with {len(fb)} frames"
        )
    _, ia, ib = np.intersect1d(fa, fb, return_indices=True)
    if len(ia) == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    return paired_iou(a[:, None, ia, :], b[None, :, ib, :], offset).mean(axis=-1)


def aligned_tubelet_iou(
    a: np.ndarray, frames_a: np.ndarray, b: np.ndarray, frames_b: np.ndarray, offset: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """`tubelet_iou` where each tubelet of `a` has its own frames: the linker's one comparison per class.

    a (Na, Ka, 4) with frames_a (Na, Ka); b (Nb, Kb, 4) sharing frames_b (Kb,). Returns the mean IoU over
    shared frames (Na, Nb), 0 for a row with none, and the number of shared frames per row (Na,).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    fa = np.asarray(frames_a).reshape(a.shape[0], -1)
    fb = np.asarray(frames_b).reshape(-1)
    if a.ndim != 3 or a.shape[1:] != (fa.shape[1], 4) or b.ndim != 3 or b.shape[1:] != (len(fb), 4):
        raise InputShapeError(
            f"aligned_tubelet_iou expects a (Na, Ka, 4) with frames (Na, Ka) and b (Nb, Kb, 4) with frames (Kb,); "
            f"got {a.shape}, {fa.shape}, {b.shape}, {fb.shape}"
        )
    out = np.empty((a.shape[0], b.shape[0]))
    shared = np.empty(a.shape[0], dtype=np.int64)
    native.aligned_tubelet_iou(np.ascontiguousarray(a), np.ascontiguousarray(fa, dtype=np.int64),
                               np.ascontiguousarray(b), np.ascontiguousarray(fb, dtype=np.int64), out, shared, offset)
    return out, shared


def tube_iou(
    frames_a: np.ndarray, boxes_a: np.ndarray, frames_b: np.ndarray, boxes_b: np.ndarray, offset: float = 0.0
) -> float:
    """Spatio-temporal IoU of two tubes: temporal IoU × mean spatial IoU over the frames both have.

    The temporal extent of a tube is [first frame, last frame], counted inclusively (ACT's `iou3dt`). ACT
    pairs the boxes of the overlap by position, which assumes both tubes have every frame; here they are
    paired by frame number, and frames missing from either tube are left out of the spatial mean.
    """
    temporal, spatial = tube_iou_factors(frames_a, boxes_a, frames_b, boxes_b, offset)
    return temporal * spatial


def tube_iou_factors(
    frames_a: np.ndarray, boxes_a: np.ndarray, frames_b: np.ndarray, boxes_b: np.ndarray, offset: float = 0.0
) -> tuple[float, float]:
    """The two factors of `tube_iou`, (temporal IoU, mean spatial IoU), for telling which one a tube lacks;
    both are 0 when the tubes share no frame."""
    fa = np.asarray(frames_a).reshape(-1)
    fb = np.asarray(frames_b).reshape(-1)
    if len(fa) == 0 or len(fb) == 0:
        return 0.0, 0.0
    t_inter = min(fa.max(), fb.max()) - max(fa.min(), fb.min()) + 1
    if t_inter <= 0:
        return 0.0, 0.0
    t_union = max(fa.max(), fb.max()) - min(fa.min(), fb.min()) + 1
    _, ia, ib = np.intersect1d(fa, fb, return_indices=True)
    if len(ia) == 0:
        return 0.0, 0.0
    ba = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    bb = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    return float(t_inter / t_union), float(paired_iou(ba[ia], bb[ib], offset).mean())


def tube_iou_matrix(
    a: Sequence[tuple[np.ndarray, np.ndarray]], b: Sequence[tuple[np.ndarray, np.ndarray]], offset: float = 0.0
) -> np.ndarray:
    """`tube_iou` of every (frames, boxes) tube in `a` with every one in `b` → (len(a), len(b))."""
    out = np.zeros((len(a), len(b)))
    for i, (fa, ba) in enumerate(a):
        for j, (fb, bb) in enumerate(b):
            out[i, j] = tube_iou(fa, ba, fb, bb, offset)
    return out


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    *,
    groups: np.ndarray | None = None,
    top_k: int | None = None,
    offset: float = 0.0,
) -> np.ndarray:
    """Greedy non-maximum suppression, independently within each group; returns the kept indices.

    `boxes` is (N, 4), or (N, K, 4) for tubelets, whose overlap is the mean IoU over the K frames (ACT's
    `nms_tubelets`). A box is suppressed when its overlap with a kept, higher-ranked box of its group is
    greater than `threshold`. Rank is descending score, ties going to the lower input index. `top_k` keeps
    only the first k survivors of each group. The result is ordered by group, then rank.

    The ranking is one lexsort here; the greedy walk is `native.nms_sorted` (C, or its NumPy twin).
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = len(scores)
    if boxes.shape[0] != n or boxes.shape[-1] != 4 or boxes.ndim not in (2, 3):
        raise InputShapeError(f"nms expects boxes (N, 4) or (N, K, 4) for {n} scores, got {boxes.shape}")
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups).reshape(-1)
    if len(groups) != n:
        raise InputShapeError(f"nms expects one group per box ({n}), got {len(groups)}")
    if top_k is not None and top_k < 0:
        raise ValueError(f"top_k must be None or >= 0, got {top_k}")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(groups.dtype, np.integer):  # the kernel compares int64 labels: number the groups
        groups = np.unique(groups, return_inverse=True)[1].reshape(-1)

    order = np.lexsort((np.arange(n), -scores, groups))
    keep = np.empty(n, dtype=np.uint8)
    native.nms_sorted(np.ascontiguousarray(boxes), order, np.ascontiguousarray(groups, dtype=np.int64), threshold,
                      top_k, offset, keep)
    return order[keep.view(bool)]


def tube_nms(
    tubes: Sequence[tuple[np.ndarray, np.ndarray]], scores: np.ndarray, threshold: float, offset: float = 0.0
) -> np.ndarray:
    """Greedy suppression of (frames, boxes) tubes on `tube_iou` (ACT's `nms3dt`); kept indices by rank.

    Rank is descending score, ties to the lower index; a tube goes when its IoU with a kept one is greater
    than `threshold`.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(tubes) != len(scores):
        raise InputShapeError(f"tube_nms expects one score per tube, got {len(scores)} for {len(tubes)} tubes")
    order = np.lexsort((np.arange(len(scores)), -scores))
    ious = tube_iou_matrix([tubes[i] for i in order], [tubes[i] for i in order], offset)
    suppressed = np.zeros(len(order), dtype=bool)
    for i in range(len(order)):
        if not suppressed[i]:
            suppressed[i + 1:] |= ious[i, i + 1:] > threshold
    return order[~suppressed]
