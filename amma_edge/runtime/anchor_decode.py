"""Decoding A*'s YOLO-style head into frame detections, in NumPy, shared by evaluation and the device.

The box parametrisation is the one the loss trains (`amma_edge.train.losses.decode_anchor_boxes`, YOLOv2):
centre = (cell + sigmoid(t_xy)) · stride, size = anchor · exp(t_wh) · stride, with t_wh capped at 8. A box's
score for class c is sigmoid(objectness) · sigmoid(class logit c): classes are trained with per-class sigmoid
(focal) losses, so one box may score for several classes, as AVA needs. Per-class NMS, then the top N.

For linking, a frame-level detection becomes a two-frame tubelet (previous frame, this frame) holding the same
box at both: consecutive steps then share one frame, and the linker's mean-IoU-over-shared-frames rule
compares the new box with the tube's box at the previous frame: the frame-to-frame IoU rule frame-level
detectors (YOWO) link with.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amma_edge.errors import InputShapeError
from amma_edge.runtime.boxes import nms
from amma_edge.runtime.decode import Tubelets

DEFAULT_SCORE_THRESHOLD = 0.005
DEFAULT_NMS_THRESHOLD = 0.5
_MAX_LOG_SIZE = 8.0
_MAX_CANDIDATES = 2000


@dataclass(frozen=True, eq=False)
class FrameDetections:
    """N boxes of one key frame: boxes (N, 4) float32 in original-frame pixels, scores (N,) descending,
    classes (N,) int64."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def as_tubelets(self) -> Tubelets:
        """Two-frame tubelets (previous frame, this frame) with this box at both, for `TubeLinker`."""
        return Tubelets(np.repeat(self.boxes[:, None, :], 2, axis=1), self.scores, self.classes)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


def decode_anchors(
    box: np.ndarray,
    objectness: np.ndarray,
    classes: np.ndarray,
    anchors: np.ndarray,
    *,
    stride: int,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    nms_threshold: float = DEFAULT_NMS_THRESHOLD,
    top_n: int = 100,
) -> FrameDetections:
    """One sample's raw head: box (A, 4, h, w), objectness (A, h, w), classes (A, C, h, w) logits."""
    box, objectness, classes = (np.asarray(a, dtype=np.float32) for a in (box, objectness, classes))
    anchors = np.asarray(anchors, dtype=np.float32).reshape(-1, 2)
    if (box.ndim != 4 or box.shape[1] != 4 or objectness.shape != (box.shape[0],) + box.shape[2:]
            or classes.ndim != 4 or classes.shape[0] != box.shape[0] or classes.shape[2:] != box.shape[2:]
            or len(anchors) != box.shape[0]):
        raise InputShapeError(
            f"A* decoding needs box (A, 4, h, w), objectness (A, h, w), classes (A, C, h, w) and A anchors; got "
            f"{box.shape}, {objectness.shape}, {classes.shape} and {len(anchors)} anchors")
    A, _, h, w = box.shape
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    cx = (xs + _sigmoid(box[:, 0])) * stride
    cy = (ys + _sigmoid(box[:, 1])) * stride
    bw = anchors[:, 0, None, None] * np.exp(np.minimum(box[:, 2], _MAX_LOG_SIZE)) * stride
    bh = anchors[:, 1, None, None] * np.exp(np.minimum(box[:, 3], _MAX_LOG_SIZE)) * stride
    sy, sx = original_size[0] / input_size[0], original_size[1] / input_size[1]
    boxes = np.stack([(cx - bw / 2) * sx, (cy - bh / 2) * sy, (cx + bw / 2) * sx, (cy + bh / 2) * sy], axis=-1)
    boxes = boxes.reshape(-1, 4)  # (A·h·w, 4)
    np.clip(boxes[:, 0::2], 0, original_size[1], out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, original_size[0], out=boxes[:, 1::2])

    scores = _sigmoid(objectness)[:, None] * _sigmoid(classes)  # (A, C, h, w)
    scores = scores.transpose(0, 2, 3, 1).reshape(-1, classes.shape[1])  # (A·h·w, C)
    cell, label = np.nonzero(scores >= score_threshold)
    values = scores[cell, label]
    if len(values) > _MAX_CANDIDATES:  # an untrained head can pass everything; NMS cost grows with the square
        best = np.argpartition(-values, _MAX_CANDIDATES)[:_MAX_CANDIDATES]
        best.sort()
        cell, label, values = cell[best], label[best], values[best]
    if len(values) == 0:
        return FrameDetections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    kept = nms(boxes[cell], values, nms_threshold, groups=label)
    kept = kept[np.argsort(-values[kept], kind="stable")][:top_n]
    return FrameDetections(boxes[cell[kept]].astype(np.float32), values[kept].astype(np.float32),
                           label[kept].astype(np.int64))
