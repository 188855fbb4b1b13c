"""Training targets: AMMA's centre heatmap, movement and size (CenterNet / MOC style) and A*'s YOLO targets.

Both take boxes already in network-input pixels (after augmentation and resize) and return fixed-size
arrays, so that samples with different numbers of actors batch with the default collate.

AMMA (paper 003, §3.3). At the output grid (input / stride): a Gaussian per tubelet on its class channel
at the key-frame centre; `index` the flat cell y·w + x of the integer key-frame centre, where the
movement and size branches are read; `movement` the centre of the box at the last frame of each clip
minus that integer centre; `size` the box width and height at each clip; all in grid units, clip-major
((dx1, dy1, dx2, dy2, …), (w1, h1, w2, h2, …)).

A* (paper 000) is YOLO-based: each key-frame box belongs to the cell holding its centre and to the anchor
whose shape overlaps it best; the head regresses tx, ty (offset in the cell) and tw, th (log of size over
anchor), an objectness, classes (multi-hot: AVA actors carry several actions) and a GIoU box.
"""
from __future__ import annotations

import numpy as np

from amma_edge.errors import AmmaEdgeError

# Added before flooring a centre to its cell: a centre that is a whole number of cells in exact arithmetic
# but arrives a hair below it through float32 round-off (boxes scaled by 4/3, say) stays in its cell.
_CELL_EPS = 1e-4


def gaussian_radius(height: np.ndarray, width: np.ndarray, min_overlap: float = 0.7) -> np.ndarray:
    """CenterNet's radius for a box of (height, width): how far its corners may move and keep `min_overlap`.

    Three cases (both corners moved outwards, both inwards, one each) each give a quadratic in r; the
    smallest root wins. The last two roots are computed as CenterNet computes them, dividing by 2 where
    the quadratic formula divides by 2a — this makes the Gaussians wider than the geometry says, and it is
    what CenterNet-, MOC- and AMMA-trained models learned with, so we keep it for comparable training.
    """
    h = np.asarray(height, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    o = min_overlap
    b1, c1 = h + w, w * h * (1 - o) / (1 + o)
    r1 = (b1 + np.sqrt(b1 * b1 - 4 * c1)) / 2
    a2, b2, c2 = 4.0, 2 * (h + w), (1 - o) * w * h
    r2 = (b2 + np.sqrt(b2 * b2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * o, -2 * o * (h + w), (o - 1) * w * h
    r3 = (b3 + np.sqrt(b3 * b3 - 4 * a3 * c3)) / 2
    return np.minimum(np.minimum(r1, r2), r3)


def draw_gaussians(heatmap: np.ndarray, classes: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> None:
    """Max-merge into `heatmap` (C, H, W) one Gaussian of σ = (2r+1)/6, truncated at r, per (class, centre).

    The peak is exactly 1 at each integer centre (x, y); overlapping Gaussians of a class keep the maximum.
    """
    classes = np.asarray(classes, dtype=np.int64)
    if len(classes) == 0:
        return
    _, height, width = heatmap.shape
    centres = np.asarray(centres, dtype=np.int64).reshape(-1, 2)
    radii = np.asarray(radii, dtype=np.int64)
    two_sigma_sq = 2 * ((2 * radii + 1) / 6.0) ** 2
    dx = np.arange(width)[None, :] - centres[:, :1]  # (N, W)
    dy = np.arange(height)[None, :] - centres[:, 1:]  # (N, H)
    gx = np.exp(-(dx * dx) / two_sigma_sq[:, None]) * (np.abs(dx) <= radii[:, None])
    gy = np.exp(-(dy * dy) / two_sigma_sq[:, None]) * (np.abs(dy) <= radii[:, None])
    np.maximum.at(heatmap, classes, (gy[:, :, None] * gx[:, None, :]).astype(heatmap.dtype))


def amma_targets(
    labels: np.ndarray,
    boxes: np.ndarray,
    num_classes: int,
    input_size: tuple[int, int],
    stride: int = 8,
    max_objs: int = 128,
    min_radius: int = 0,
) -> dict[str, np.ndarray]:
    """Targets of one sample from tubelet labels (N,) and boxes (N, K, 4) in input pixels; the key frame is clip K.

    `min_radius` raises CenterNet's Gaussian radius to at least that many cells. On small inputs (128 pixels at
    stride 8) a person is 2 × 6 cells, the rule gives radius 0, and the neighbours of each peak are penalised
    as hard as the background, which slows the centre heatmap's training.

    Returns heatmap (C, h, w) float32, index (max_objs,) int64, mask (max_objs,) float32,
    movement (max_objs, 2K) float32 and size (max_objs, 2K) float32, with (h, w) = input_size // stride.
    Tubelets whose key-frame box is empty are left out; beyond `max_objs` the rest are dropped.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64) / stride
    if boxes.ndim != 3 or boxes.shape[0] != len(labels) or boxes.shape[2] != 4:
        raise ValueError(f"boxes must be (N, K, 4) for {len(labels)} labels, got shape {boxes.shape}")
    K = boxes.shape[1]
    out_h, out_w = input_size[0] // stride, input_size[1] // stride
    _check_labels(labels, num_classes)

    sizes = boxes[..., 2:] - boxes[..., :2]  # (N, K, 2) as (w, h)
    keep = np.all(sizes[:, -1] > 0, axis=1)
    labels, boxes, sizes = labels[keep][:max_objs], boxes[keep][:max_objs], sizes[keep][:max_objs]
    centres = (boxes[..., :2] + boxes[..., 2:]) / 2  # (N, K, 2) as (x, y)
    key_int = np.floor(centres[:, -1] + _CELL_EPS).astype(np.int64)
    np.clip(key_int[:, 0], 0, out_w - 1, out=key_int[:, 0])
    np.clip(key_int[:, 1], 0, out_h - 1, out=key_int[:, 1])
    radii = np.maximum(gaussian_radius(np.ceil(sizes[:, -1, 1]), np.ceil(sizes[:, -1, 0])), min_radius).astype(np.int64)

    heatmap = np.zeros((num_classes, out_h, out_w), dtype=np.float32)
    draw_gaussians(heatmap, labels, key_int, radii)
    n = len(labels)
    index = np.zeros(max_objs, dtype=np.int64)
    mask = np.zeros(max_objs, dtype=np.float32)
    movement = np.zeros((max_objs, 2 * K), dtype=np.float32)
    size = np.zeros((max_objs, 2 * K), dtype=np.float32)
    index[:n] = key_int[:, 1] * out_w + key_int[:, 0]
    mask[:n] = 1.0
    movement[:n] = (centres - key_int[:, None, :]).reshape(n, 2 * K)
    size[:n] = sizes.reshape(n, 2 * K)
    return {"heatmap": heatmap, "index": index, "mask": mask, "movement": movement, "size": size}


def merge_multilabel(labels: np.ndarray, boxes: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One row per distinct box: multi-hot classes (M, C) float32 and boxes (M, 4).

    In the tube format a person doing two AVA actions appears once per action with the same box; YOLO
    needs one target per person with both classes set.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    _check_labels(labels, num_classes)
    if len(labels) == 0:
        return np.zeros((0, num_classes), np.float32), boxes
    _, first, inverse = np.unique(np.round(boxes, 2), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    classes = np.zeros((len(first), num_classes), dtype=np.float32)
    classes[inverse, labels] = 1.0
    return classes, boxes[first]


def astar_targets(
    classes: np.ndarray,
    boxes: np.ndarray,
    anchors: np.ndarray,
    input_size: tuple[int, int],
    stride: int = 32,
    max_objs: int = 128,
) -> dict[str, np.ndarray]:
    """YOLO targets from multi-hot classes (M, C) and key-frame boxes (M, 4) in input pixels.

    `anchors` (A, 2) are (w, h) in grid cells. Dense targets are laid out (A, gh, gw, ·):
    obj_mask (A, gh, gw) float32 — 1 where an anchor of a cell is responsible for a box;
    txty (A, gh, gw, 2) — box centre minus the cell corner, in cells, in [0, 1];
    twth (A, gh, gw, 2) — log(box size / anchor size); classes (A, gh, gw, C) multi-hot;
    boxes (A, gh, gw, 4) — the responsible box (x1, y1, x2, y2) in input pixels, for the GIoU loss.
    All boxes, for the ignore rule of the no-object loss: gt_boxes (max_objs, 4), gt_classes
    (max_objs, C), gt_mask (max_objs,). When two boxes fall on the same cell and anchor, the one whose shape
    fits the anchor better keeps it; boxes with no area are left out.
    """
    classes = np.asarray(classes, dtype=np.float32)
    num_classes = classes.shape[-1]
    classes = classes.reshape(-1, num_classes)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    if len(anchors) == 0 or np.any(anchors <= 0):
        raise AmmaEdgeError(f"A* needs anchors as positive (w, h) pairs in grid cells, got {anchors.tolist()}: "
                            "pass the anchors of the model's configuration")
    grid_h, grid_w = input_size[0] // stride, input_size[1] // stride
    num_anchors = len(anchors)

    keep = np.all(boxes[:, 2:] > boxes[:, :2], axis=1)
    classes, boxes = classes[keep][:max_objs], boxes[keep][:max_objs]
    wh = (boxes[:, 2:] - boxes[:, :2]) / stride  # (M, 2) in cells
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / stride
    cell = np.floor(centre + _CELL_EPS).astype(np.int64)
    np.clip(cell[:, 0], 0, grid_w - 1, out=cell[:, 0])
    np.clip(cell[:, 1], 0, grid_h - 1, out=cell[:, 1])
    inter = np.minimum(wh[:, None, 0], anchors[None, :, 0]) * np.minimum(wh[:, None, 1], anchors[None, :, 1])
    iou = inter / (wh[:, None, 0] * wh[:, None, 1] + anchors[None, :, 0] * anchors[None, :, 1] - inter)
    best = np.argmax(iou, axis=1)

    # One box per (anchor, cell): order by fit, keep the first of each slot.
    order = np.argsort(-iou[np.arange(len(best)), best], kind="stable")
    slot = (best * grid_h + cell[:, 1]) * grid_w + cell[:, 0]
    _, first = np.unique(slot[order], return_index=True)
    chosen = order[first]

    dense = (num_anchors, grid_h, grid_w)
    obj_mask = np.zeros(dense, dtype=np.float32)
    txty = np.zeros(dense + (2,), dtype=np.float32)
    twth = np.zeros(dense + (2,), dtype=np.float32)
    cls = np.zeros(dense + (num_classes,), dtype=np.float32)
    tboxes = np.zeros(dense + (4,), dtype=np.float32)
    where = (best[chosen], cell[chosen, 1], cell[chosen, 0])
    obj_mask[where] = 1.0
    txty[where] = centre[chosen] - cell[chosen]
    twth[where] = np.log(wh[chosen] / anchors[best[chosen]])
    cls[where] = classes[chosen]
    tboxes[where] = boxes[chosen]

    m = len(boxes)
    gt_boxes = np.zeros((max_objs, 4), dtype=np.float32)
    gt_classes = np.zeros((max_objs, num_classes), dtype=np.float32)
    gt_mask = np.zeros(max_objs, dtype=np.float32)
    gt_boxes[:m], gt_classes[:m], gt_mask[:m] = boxes, classes, 1.0
    return {"obj_mask": obj_mask, "txty": txty, "twth": twth, "classes": cls, "boxes": tboxes,
            "gt_boxes": gt_boxes, "gt_classes": gt_classes, "gt_mask": gt_mask}


def _check_labels(labels: np.ndarray, num_classes: int) -> None:
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if len(bad):
        raise AmmaEdgeError(f"ground-truth label {int(bad[0])} is outside the model's {num_classes} classes: "
                            "set num_classes to the dataset's number of labels")
