"""From the tubelet head's maps to scored tubelets in the original frame's pixels (AMMA §3.3, CenterNet's decode).

The head's output for one sample (see `amma_edge.models.amma.head`), on a grid of stride 8:

    center     (C, h, w)   probability that an action of class c is centred in cell (y, x) at the key frame
    trajectory (2K, h, w)  (dx_k, dy_k), k = 1..K oldest first: the centre at the last frame of clip k minus
                           the integer key-frame peak cell (x, y), in grid cells; for k = K it is the
                           sub-cell offset of the key-frame centre itself
    box        (2K, h, w)  (w_k, h_k): the box size at the last frame of clip k, in grid cells

Coordinates follow CenterNet and `amma_edge.data.targets`: a point at grid coordinate g is at input pixel
g·stride (the targets are built as centre_grid = centre_pixel / stride, cell = floor(centre_grid)). So a
peak at cell (x, y) gives, for clip k,

    centre = ((x + dx_k)·stride, (y + dy_k)·stride),  size = (w_k·stride, h_k·stride)     in input pixels,

and the box (centre ∓ size/2) is scaled by original/input per axis into the original frame, then clipped to
[0, width] × [0, height]. Negative sizes, which an untrained head can produce, count as 0.

Peaks: a cell is kept when it equals the maximum of its 3×3 neighbourhood in its own class map (CenterNet's
max-pool test, so every cell of a flat top survives). Ranking: descending score, ties to the lower flat
index of (class, y, x), i.e. lower class, then upper row, then left column — the same on every run and in
the C twin.

The work runs in the C kernel `decode` (amma_edge.runtime._native) when it is built and in its NumPy twin
`reference.decode` otherwise; both give bit-identical tubelets.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from amma_edge.errors import InputShapeError
from amma_edge.runtime import native
from amma_edge.runtime.reference import peak_mask

DEFAULT_STRIDE = 8
DEFAULT_TOP_N = 100


@dataclass(frozen=True, eq=False)
class Tubelets:
    """N tubelets of one sample: boxes (N, K, 4) float32 (x1, y1, x2, y2) per clip end, oldest first, in
    original-frame pixels; scores (N,) float32 in descending order; classes (N,) int64."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.ndim != 3 or self.boxes.shape[0] != n or self.boxes.shape[2] != 4 or len(self.classes) != n:
            raise InputShapeError(
                f"tubelets need boxes (N, K, 4), scores (N,) and classes (N,); got {self.boxes.shape}, "
                f"{self.scores.shape} and {self.classes.shape}"
            )

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def K(self) -> int:
        return self.boxes.shape[1]

    def take(self, index: np.ndarray) -> Tubelets:
        """The tubelets at `index` (integer indices or a boolean mask), in that order."""
        return Tubelets(self.boxes[index], self.scores[index], self.classes[index])

    @classmethod
    def empty(cls, K: int) -> Tubelets:
        return cls(np.zeros((0, K, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def decode(
    center: np.ndarray,
    trajectory: np.ndarray,
    box: np.ndarray,
    *,
    input_size: tuple[int, int],
    original_size: tuple[int, int] | None = None,
    stride: int = DEFAULT_STRIDE,
    top_n: int = DEFAULT_TOP_N,
) -> Tubelets:
    """The top `top_n` tubelets of one sample; sizes are (height, width), `original_size` defaults to the input.

    Fewer than `top_n` come back when the maps have fewer peaks.
    """
    center = np.ascontiguousarray(center, dtype=np.float32)
    trajectory = np.ascontiguousarray(trajectory, dtype=np.float32)
    box = np.ascontiguousarray(box, dtype=np.float32)
    K = _check_shapes(center[None], trajectory[None], box[None], input_size, stride)
    return _decode_one(center, trajectory, box, K, input_size, original_size or input_size, stride, top_n)


def decode_batch(
    center: np.ndarray,
    trajectory: np.ndarray,
    box: np.ndarray,
    *,
    input_size: tuple[int, int],
    original_size: tuple[int, int] | Sequence[tuple[int, int]] | None = None,
    stride: int = DEFAULT_STRIDE,
    top_n: int = DEFAULT_TOP_N,
) -> list[Tubelets]:
    """`decode` over B samples: center (B, C, h, w), trajectory and box (B, 2K, h, w).

    `original_size` is one (height, width) for all samples or one per sample.
    """
    center = np.ascontiguousarray(center, dtype=np.float32)
    trajectory = np.ascontiguousarray(trajectory, dtype=np.float32)
    box = np.ascontiguousarray(box, dtype=np.float32)
    K = _check_shapes(center, trajectory, box, input_size, stride)
    b = center.shape[0]
    if original_size is None:
        sizes = [tuple(input_size)] * b
    elif len(original_size) == 2 and np.isscalar(original_size[0]):
        sizes = [tuple(original_size)] * b
    else:
        sizes = [tuple(s) for s in original_size]
        if len(sizes) != b:
            raise InputShapeError(f"decode_batch got {len(sizes)} original sizes for a batch of {b}")
    return [_decode_one(center[i], trajectory[i], box[i], K, input_size, sizes[i], stride, top_n) for i in range(b)]


def _check_shapes(center: np.ndarray, trajectory: np.ndarray, box: np.ndarray,
                  input_size: tuple[int, int], stride: int) -> int:
    if center.ndim != 4 or trajectory.ndim != 4 or box.ndim != 4:
        raise InputShapeError(
            f"decode expects center (C, h, w), trajectory (2K, h, w) and box (2K, h, w) (with a leading batch "
            f"axis for decode_batch); got {center.shape[1:]}, {trajectory.shape[1:]} and {box.shape[1:]}"
        )
    b, _, h, w = center.shape
    two_k = trajectory.shape[1]
    if two_k == 0 or two_k % 2 or trajectory.shape != (b, two_k, h, w) or box.shape != (b, two_k, h, w):
        raise InputShapeError(
            f"trajectory and box must both be (2K, {h}, {w}) to match center {center.shape[1:]}; got "
            f"{trajectory.shape[1:]} and {box.shape[1:]}"
        )
    if (h, w) != (input_size[0] // stride, input_size[1] // stride):
        raise InputShapeError(
            f"a {h}×{w} grid at stride {stride} does not come from a {input_size[0]}×{input_size[1]} input: "
            "pass the network input size as (height, width)"
        )
    return two_k // 2


def _decode_one(center: np.ndarray, trajectory: np.ndarray, box: np.ndarray, K: int, input_size: tuple[int, int],
                original_size: tuple[int, int], stride: int, top_n: int) -> Tubelets:
    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 0:
        raise ValueError(f"top_n must be an integer >= 0, got {top_n!r}")
    cap = min(int(top_n), center.size)  # no map has more peaks than cells
    boxes = np.empty((cap, K, 4), np.float32)
    scores = np.empty(cap, np.float32)
    classes = np.empty(cap, np.int64)
    n = native.decode(center, trajectory, box, boxes, scores, classes, stride=stride, input_size=input_size,
                      original_size=original_size)
    if n < cap:  # fewer peaks than asked for: keep the arrays exactly N long
        boxes, scores, classes = boxes[:n].copy(), scores[:n].copy(), classes[:n].copy()
    return Tubelets(boxes, scores, classes)


__all__ = ["DEFAULT_STRIDE", "DEFAULT_TOP_N", "Tubelets", "decode", "decode_batch", "peak_mask"]
