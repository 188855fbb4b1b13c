"""NumPy twins of the C kernels in `csrc/`: the definition each kernel is tested against, and the fallback
when the extension is not built.

Each function takes the same arguments as its C counterpart, applies the same checks in the same order with
the same messages, and does the same float32 arithmetic in the same order, so the two agree to the last bit or
nearly (the tests allow 1e-6). Arguments are buffer-protocol objects (numpy arrays, memoryviews of ring
slots) read through `memoryview`, which reports format, shape, contiguity and writability exactly as the C side
sees them. Call them through `amma_edge.runtime.native`, which picks the C kernel when it is built.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from amma_edge.errors import InputShapeError

# Added under the square root of the micro-motion norm. Must equal
# amma_edge.models.amma.micro_motion.MICRO_MOTION_EPS (a test checks it); not imported from there because that
# module needs torch and the device runtime must not.
MICRO_MOTION_EPS = 1e-6

_FORMATS = {"uint8": "B", "float32": "f", "float64": "d", "int64": "q"}
_LITTLE = np.little_endian


def _format_ok(fmt: str, code: str, itemsize: int) -> bool:
    """The buffer's struct format is `code` with a prefix that keeps it native (any prefix for one byte).

    int64 is 'l' on LP64 platforms and 'q' elsewhere: either is accepted when the item is 8 bytes.
    """
    native_prefixes = ("@", "=", "<") if _LITTLE else ("@", "=", ">", "!")
    if fmt[:1] in native_prefixes or (code == "B" and fmt[:1] in ("<", ">", "!")):
        fmt = fmt[1:]
    if code == "q":
        return fmt in ("q", "l") and itemsize == 8
    return fmt == code


def _array(obj: Any, name: str, dtype: str, writable: bool = False) -> np.ndarray:
    """`obj` as a numpy array sharing its memory, after the checks of amma_get_buffer in native.c."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(
            f"{name} must be a {dtype} array (an object with the buffer protocol), got {type(obj).__name__}"
        ) from None
    if not _format_ok(view.format, _FORMATS[dtype], view.itemsize):
        raise TypeError(f"{name} must be {dtype}, got buffer format '{view.format}'")
    if not view.c_contiguous:
        raise InputShapeError(f"{name} must be C-contiguous (np.ascontiguousarray), got strides {view.strides}")
    if writable and view.readonly:
        raise ValueError(f"{name} must be writable, got a read-only buffer")
    return np.asarray(view).view(np.dtype(dtype))


def _shape_mismatch(name: str, expected: str, actual: tuple[int, ...]) -> InputShapeError:
    return InputShapeError(f"{name} must have shape {expected}, got {tuple(actual)}")


def _triple(obj: Any, name: str, positive: bool) -> tuple[float, float, float]:
    """mean or std: 3 numbers in RGB order (std positive), as amma_parse_triple reads them."""
    try:
        values = tuple(obj)
        if len(values) != 3 or any(isinstance(v, (str, bytes)) for v in values):
            raise TypeError
        values = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of 3 numbers in RGB order, got {obj!r}") from None
    if any(not np.isfinite(v) or (positive and not v > 0) for v in values):
        raise ValueError(f"{name} must be 3 {'positive ' if positive else ''}finite numbers, got {obj!r}")
    return values  # type: ignore[return-value]


def linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps with half-pixel centres, as cv2.resize INTER_LINEAR and torch align_corners=False place them.

    Output index d samples src = (d + 0.5) · n_in / n_out − 0.5 (clamped at 0) between (i0, i1) with weights
    (w0, w1); at the far edge w1 = 0 so the edge pixel is copied exactly. Same numbers as amma_linear_taps.
    """
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    np.maximum(src, 0.0, out=src)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    w1 = (src - i0).astype(np.float32)
    w1[i0 >= n_in - 1] = 0
    return i0, np.minimum(i0 + 1, n_in - 1), np.float32(1) - w1, w1


def _scale_offset(mean: Sequence[float], std: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(x / 255 − mean) / std as one multiply-add per value, rounded to float32 like the C plan."""
    m, s = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    return (1.0 / (255.0 * s)).astype(np.float32), (-m / s).astype(np.float32)


def _check_frame(frame: np.ndarray, name: str) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise _shape_mismatch(name, "(H, W, 3) with H, W >= 1", frame.shape)


def _resize_into(src: np.ndarray, out: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> None:
    """One (H, W, 3) uint8 BGR frame → out (3, OH, OW) float32 RGB: bilinear resize, then normalise.

    The two passes run in the order the C kernel picks (vertical first when the frame has more rows than the
    output, as that is cheaper there), so both round identically.
    """
    oh, ow = out.shape[1:]
    y0, y1, wy0, wy1 = linear_taps(src.shape[0], oh)
    x0, x1, wx0, wx1 = linear_taps(src.shape[1], ow)
    wx0, wx1, wy0, wy1 = wx0[:, None], wx1[:, None], wy0[:, None, None], wy1[:, None, None]

    def horizontal(rows: np.ndarray) -> np.ndarray:  # (OH, W, 3) → (OH, OW, 3) float32
        return rows[:, x0] * wx0 + rows[:, x1] * wx1

    if src.shape[0] > oh:
        value = horizontal(src[y0] * wy0 + src[y1] * wy1)
    else:
        value = horizontal(src[y0]) * wy0 + horizontal(src[y1]) * wy1
    for c in range(3):  # RGB plane c is BGR channel 2 − c
        np.multiply(value[..., 2 - c], scale[c], out=out[c])
        out[c] += offset[c]


def preprocess(frame: Any, out: Any, mean: Sequence[float], std: Sequence[float]) -> None:
    """uint8 (H, W, 3) BGR frame → out, float32 (3, OH, OW) RGB resized bilinearly and (x/255 − mean)/std."""
    mean, std = _triple(mean, "mean", False), _triple(std, "std", True)
    src = _array(frame, "frame", "uint8")
    _check_frame(src, "frame")
    dst = _array(out, "out", "float32", writable=True)
    if dst.ndim != 3 or dst.shape[0] != 3 or dst.shape[1] < 1 or dst.shape[2] < 1:
        raise _shape_mismatch("out", "(3, OH, OW) with OH, OW >= 1", dst.shape)
    if np.may_share_memory(src, dst):
        raise ValueError("out must not overlap frame")
    _resize_into(src, dst, *_scale_offset(mean, std))


def _is_buffer(obj: Any) -> bool:
    try:
        memoryview(obj)
    except TypeError:
        return False
    return True


def preprocess_batch(frames: Any, out: Any, mean: Sequence[float], std: Sequence[float]) -> None:
    """t frames (one (t, H, W, 3) uint8 buffer, or a sequence of (H, W, 3) ones) → out (t, 3, OH, OW) float32."""
    mean, std = _triple(mean, "mean", False), _triple(std, "std", True)
    if _is_buffer(frames):
        stacked = _array(frames, "frames", "uint8")
        if stacked.ndim != 4 or stacked.shape[3] != 3 or min(stacked.shape[:3]) < 1:
            raise _shape_mismatch("frames", "(t, H, W, 3) with t, H, W >= 1", stacked.shape)
        sources = list(stacked)
    else:
        try:
            items = list(frames)
        except TypeError:
            raise TypeError(
                "frames must be a uint8 (t, H, W, 3) array or a sequence of (H, W, 3) arrays, "
                f"got {type(frames).__name__}"
            ) from None
        if not items:
            raise InputShapeError("frames must hold at least one frame, got an empty sequence")
        sources = []
        for i, item in enumerate(items):
            sources.append(_array(item, f"frames[{i}]", "uint8"))
            _check_frame(sources[-1], f"frames[{i}]")
    t = len(sources)
    dst = _array(out, "out", "float32", writable=True)
    if dst.ndim != 4 or dst.shape[0] != t or dst.shape[1] != 3 or dst.shape[2] < 1 or dst.shape[3] < 1:
        raise _shape_mismatch("out", f"({t}, 3, OH, OW) with OH, OW >= 1 for {t} frames", dst.shape)
    if any(np.may_share_memory(src, dst) for src in sources):
        raise ValueError("out must not overlap frames")
    scale, offset = _scale_offset(mean, std)
    for src, plane in zip(sources, dst):
        _resize_into(src, plane, scale, offset)


def _max_pool_3x3_s2(x: np.ndarray) -> np.ndarray:
    """(..., H, W) → (..., ⌈H/2⌉, ⌈W/2⌉): torch MaxPool2d(3, stride=2, padding=1), a NaN winning as in torch."""
    h, w = (x.shape[-2] + 1) // 2, (x.shape[-1] + 1) // 2
    padded_shape = x.shape[:-2] + (x.shape[-2] + 2, x.shape[-1] + 2)
    padded = np.full(padded_shape, -np.inf, dtype=np.float32)
    padded[..., 1:-1, 1:-1] = x
    pooled = None
    for dy in range(3):
        for dx in range(3):
            window = padded[..., dy : dy + 2 * h - 1 : 2, dx : dx + 2 * w - 1 : 2]
            pooled = window.copy() if pooled is None else np.maximum(pooled, window, out=pooled)
    return pooled


def _upsample_bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(n, h, w) → (n, H, W), torch F.interpolate(bilinear, align_corners=False); horizontal pass first."""
    y0, y1, wy0, wy1 = linear_taps(maps.shape[1], size[0])
    x0, x1, wx0, wx1 = linear_taps(maps.shape[2], size[1])

    def horizontal(rows: np.ndarray) -> np.ndarray:
        return rows[..., x0] * wx0 + rows[..., x1] * wx1

    return horizontal(maps[:, y0]) * wy0[:, None] + horizontal(maps[:, y1]) * wy1[:, None]


def rgb_diff_motion(clip: Any, out: Any, eps: float = MICRO_MOTION_EPS) -> None:
    """Normalised clip float32 (t, 3, H, W) → out (t − 1, H, W): the model's MicroMotion("rgb_diff") for one clip.

    Max-pool each frame (3×3, stride 2, pad 1), take the per-pixel L2 norm over channels of f_t − f_i
    (eps under the root) for i = 1..t−1, upsample bilinearly back to H × W.
    """
    eps = float(eps)
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    x = _array(clip, "clip", "float32")
    if x.ndim != 4 or x.shape[0] < 2 or x.shape[1] != 3 or x.shape[2] < 1 or x.shape[3] < 1:
        raise _shape_mismatch("clip", "(t, 3, H, W) with t >= 2, H, W >= 1", x.shape)
    t, _, height, width = x.shape
    dst = _array(out, "out", "float32", writable=True)
    if dst.shape != (t - 1, height, width):
        raise _shape_mismatch("out", f"({t - 1}, {height}, {width}) for a clip of {t} frames", dst.shape)
    pooled = _max_pool_3x3_s2(x)
    diff = pooled[-1:] - pooled[:-1]
    square = diff * diff
    motion = np.sqrt(square[:, 0] + square[:, 1] + square[:, 2] + np.float32(eps))
    dst[...] = _upsample_bilinear(motion, (height, width))  # computed in full first, so out may alias clip


def feature_cache_write(storage: Any, slot: int, feature: Any) -> None:
    """Copy `feature` into slots `slot` and `slot + K` of a (2K, ...) float32 storage (see FeatureCache)."""
    dst = _array(storage, "storage", "float32", writable=True)
    if dst.ndim < 1 or dst.shape[0] < 2 or dst.shape[0] % 2:
        raise _shape_mismatch("storage", "(2K, ...) with K >= 1", dst.shape)
    k = dst.shape[0] // 2
    slot = int(slot)
    if not 0 <= slot < k:
        raise ValueError(f"slot must be in [0, {k}) for a cache of K={k}, got {slot}")
    src = _array(feature, "feature", "float32")
    if src.shape != dst.shape[1:]:
        raise _shape_mismatch("feature", str(dst.shape[1:]), src.shape)
    # The feature may be a view of the storage: fill the first slot, then mirror that slot.
    np.copyto(dst[slot], src)
    np.copyto(dst[slot + k], dst[slot])


class FeatureCache:
    """The K newest clip features as one contiguous (K, C, h, w) array the head reads without a copy (AMMA §3.4).

    Every new clip costs one encoder pass; the K − 1 older features come from here. The storage has 2K slots
    and each feature goes into slot s and s + K, so slots [oldest, oldest + K) always hold the K newest in
    order and `view()` is a slice of the storage, never a copy. The view is read-only (a write would break the
    mirror) and is only valid until the next `push`, which overwrites its oldest slot's twin: read it first.
    """

    _write = staticmethod(feature_cache_write)  # native.FeatureCache swaps in the C copy

    def __init__(self, K: int, shape: Sequence[int]):
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"K must be a positive integer, got {K!r}")
        shape = tuple(shape)
        if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
            raise InputShapeError(f"shape must be positive integers (C, h, w), got {shape}")
        self._k = int(K)
        self._shape = tuple(int(s) for s in shape)
        self._storage = np.zeros((2 * self._k, *self._shape), dtype=np.float32)
        self._views = []
        for start in range(self._k):
            view = self._storage[start : start + self._k]
            view.flags.writeable = False
            self._views.append(view)
        self._next = 0  # the slot the next push writes: also where the K newest start
        self._count = 0

    @property
    def K(self) -> int:
        return self._k

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one feature."""
        return self._shape

    @property
    def count(self) -> int:
        """Features held, up to K."""
        return self._count

    @property
    def ready(self) -> bool:
        """Whether K features were pushed (or `fill_with` padded), so `view()` can be read."""
        return self._count >= self._k

    @property
    def storage(self) -> np.ndarray:
        """The (2K, C, h, w) backing array, read-only: every view is a slice of it."""
        storage = self._storage.view()
        storage.flags.writeable = False
        return storage

    def push(self, feature: Any) -> None:
        """Copy one float32 feature of `shape` in as the newest; the oldest drops out once K are held."""
        self._write(self._storage, self._next, feature)
        self._next = (self._next + 1) % self._k
        self._count = min(self._count + 1, self._k)

    def fill_with(self, feature: Any) -> None:
        """Replace the contents with K copies of `feature`: the cold start, padding with the first clip's
        feature as AMMA pads videos shorter than K clips."""
        self._write(self._storage, 0, feature)
        first = self._storage[0]
        for slot in range(1, self._k):
            self._write(self._storage, slot, first)
        self._next = 0
        self._count = self._k

    def view(self) -> np.ndarray:
        """The K newest features, oldest first, as a read-only (K, C, h, w) slice of the storage."""
        if self._count < self._k:
            raise RuntimeError(
                f"the feature cache holds {self._count} of K={self._k} features: push {self._k - self._count} "
                "more, or fill_with(feature) to pad, before reading view()"
            )
        return self._views[self._next]

    def reset(self) -> None:
        """Forget every feature (a new video or a scene cut): `view()` fails until K are pushed again."""
        self._next = 0
        self._count = 0


# --- decode (twin of csrc/decode.c) --------------------------------------------------------------------------


def peak_mask(center: np.ndarray) -> np.ndarray:
    """True where a cell equals the maximum of its 3×3 neighbourhood, per map, over the last two axes.

    A NaN in the neighbourhood (or the cell) makes the cell no peak, as NumPy's maximum propagates it.
    """
    center = np.asarray(center)
    h, w = center.shape[-2:]
    pad = [(0, 0)] * (center.ndim - 2) + [(1, 1), (1, 1)]
    padded = np.pad(center, pad, constant_values=-np.inf)
    neighbourhood_max = center.copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(neighbourhood_max, padded[..., dy:dy + h, dx:dx + w], out=neighbourhood_max)
    return center >= neighbourhood_max


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value:g}")
    return value


def decode(center: Any, trajectory: Any, box: Any, boxes_out: Any, scores_out: Any, classes_out: Any, stride: int,
           input_h: float, input_w: float, original_h: float, original_w: float) -> int:
    """The top len(scores_out) tubelets of one sample into caller-owned buffers; returns how many were written.

    center float32 (C, h, w), trajectory and box float32 (2K, h, w); boxes_out float32 (N, K, 4), scores_out
    float32 (N,), classes_out int64 (N,). Peaks: a cell equal to the maximum of its 3×3 neighbourhood in its own
    class map; ranked by descending score, ties to the lower flat index of (class, y, x). For peak (x, y) and
    clip k: centre = ((x, y) + trajectory_k) · stride, size = max(box_k, 0) · stride, corners scaled by
    original / input per axis and clipped to the original frame (see amma_edge.runtime.decode).
    """
    stride = int(stride)
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")
    input_h, input_w = _positive(input_h, "input height"), _positive(input_w, "input width")
    original_h, original_w = _positive(original_h, "original height"), _positive(original_w, "original width")
    names = ("center", "trajectory", "box", "boxes_out", "scores_out", "classes_out")
    objs = (center, trajectory, box, boxes_out, scores_out, classes_out)
    kinds = ("float32",) * 5 + ("int64",)
    arrays = [_array(o, n, k, writable=i >= 3) for i, (o, n, k) in enumerate(zip(objs, names, kinds))]
    center, trajectory, box, boxes_out, scores_out, classes_out = arrays
    if center.ndim != 3 or min(center.shape) < 1:
        raise _shape_mismatch("center", "(C, h, w) with C, h, w >= 1", center.shape)
    _, h, w = center.shape
    if trajectory.ndim != 3 or trajectory.shape[0] < 2 or trajectory.shape[0] % 2 or trajectory.shape[1:] != (h, w):
        raise _shape_mismatch("trajectory", f"(2K, {h}, {w}) with K >= 1", trajectory.shape)
    K = trajectory.shape[0] // 2
    if box.shape != (2 * K, h, w):
        raise _shape_mismatch("box", f"({2 * K}, {h}, {w}) like trajectory", box.shape)
    if scores_out.ndim != 1:
        raise _shape_mismatch("scores_out", "(N,)", scores_out.shape)
    cap = scores_out.shape[0]
    if boxes_out.shape != (cap, K, 4):
        raise _shape_mismatch("boxes_out", f"({cap}, {K}, 4) for N = {cap} and K = {K}", boxes_out.shape)
    if classes_out.shape != (cap,):
        raise _shape_mismatch("classes_out", f"({cap},) like scores_out", classes_out.shape)
    for o in range(3, 6):
        for j in range(6):
            if j != o and np.may_share_memory(arrays[o], arrays[j]):
                raise ValueError(f"{names[o]} must not overlap {names[j]}")

    candidates = np.flatnonzero(peak_mask(center))
    values = center.reshape(-1)[candidates]
    chosen = np.argsort(-values, kind="stable")[:cap]
    flat, scores = candidates[chosen], values[chosen]
    classes, cell = np.divmod(flat, h * w)
    y, x = np.divmod(cell, w)
    n = len(flat)
    offsets = trajectory[:, y, x].T.reshape(n, K, 2)
    sizes = np.maximum(box[:, y, x].T.reshape(n, K, 2), 0)
    cell_xy = np.stack([x, y], axis=1).astype(np.float32)[:, None, :]
    centre = (cell_xy + offsets) * np.float32(stride)
    half = sizes * np.float32(stride / 2)
    scale = np.array([original_w / input_w, original_h / input_h], dtype=np.float32)
    corners = np.concatenate([(centre - half) * scale, (centre + half) * scale], axis=-1)
    limit = np.array([original_w, original_h] * 2, dtype=np.float32)
    boxes_out[:n] = np.clip(corners, 0, limit)
    scores_out[:n] = scores
    classes_out[:n] = classes
    return n


# --- overlaps (twins of csrc/iou.c) --------------------------------------------------------------------------


def paired_iou_values(a: np.ndarray, b: np.ndarray, offset: float) -> np.ndarray:
    """IoU of a[..., :] with b[..., :] for broadcastable float64 (..., 4) arrays; 0 where the union is empty.

    The one formula every overlap here uses (boxes.paired_iou is this after its shape check). Infinite or NaN
    coordinates give an undefined union and so an IoU of 0, quietly.
    """
    with np.errstate(invalid="ignore"):
        return _paired_iou_values(a, b, offset)


def _paired_iou_values(a: np.ndarray, b: np.ndarray, offset: float) -> np.ndarray:
    iw = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + offset, 0.0)
    ih = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + offset, 0.0)
    inter = iw * ih
    area_a = np.maximum(a[..., 2] - a[..., 0] + offset, 0.0) * np.maximum(a[..., 3] - a[..., 1] + offset, 0.0)
    area_b = np.maximum(b[..., 2] - b[..., 0] + offset, 0.0) * np.maximum(b[..., 3] - b[..., 1] + offset, 0.0)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _finite_offset(offset: float) -> float:
    offset = float(offset)
    if not np.isfinite(offset):
        raise ValueError("offset must be a finite number (0 or 1)")
    return offset


def box_iou(a: Any, b: Any, out: Any, offset: float) -> None:
    """Pairwise IoU of float64 boxes a (N, 4) and b (M, 4) into out (N, M)."""
    offset = _finite_offset(offset)
    a, b = _array(a, "a", "float64"), _array(b, "b", "float64")
    dst = _array(out, "out", "float64", writable=True)
    if a.ndim != 2 or a.shape[1] != 4:
        raise _shape_mismatch("a", "(N, 4)", a.shape)
    if b.ndim != 2 or b.shape[1] != 4:
        raise _shape_mismatch("b", "(M, 4)", b.shape)
    if dst.shape != (a.shape[0], b.shape[0]):
        raise _shape_mismatch("out", f"({a.shape[0]}, {b.shape[0]})", dst.shape)
    if np.may_share_memory(dst, a) or np.may_share_memory(dst, b):
        raise ValueError("out must not overlap the boxes")
    dst[...] = paired_iou_values(a[:, None, :], b[None, :, :], offset)


def aligned_tubelet_iou(a: Any, frames_a: Any, b: Any, frames_b: Any, out: Any, shared: Any, offset: float) -> None:
    """Mean IoU over shared frames of tubelets a (Na, Ka, 4) with frames (Na, Ka) and b (Nb, Kb, 4) sharing
    frames (Kb,): into out (Na, Nb) float64 (0 for a row with no shared frame) and shared (Na,) int64.

    The mean is a sum over (i, j) frame pairs in order, then divided by the count, as the C kernel adds.
    """
    offset = _finite_offset(offset)
    names = ("a", "frames_a", "b", "frames_b", "out", "shared")
    kinds = ("float64", "int64", "float64", "int64", "float64", "int64")
    arrays = [_array(o, n, k, writable=i >= 4)
              for i, (o, n, k) in enumerate(zip((a, frames_a, b, frames_b, out, shared), names, kinds))]
    a, fa, b, fb, dst, count = arrays
    if a.ndim != 3 or a.shape[2] != 4:
        raise _shape_mismatch("a", "(Na, Ka, 4)", a.shape)
    na, ka = a.shape[:2]
    if fa.shape != (na, ka):
        raise _shape_mismatch("frames_a", f"({na}, {ka}) like a's first two axes", fa.shape)
    if b.ndim != 3 or b.shape[2] != 4:
        raise _shape_mismatch("b", "(Nb, Kb, 4)", b.shape)
    nb, kb = b.shape[:2]
    if fb.shape != (kb,):
        raise _shape_mismatch("frames_b", f"({kb},) for b's Kb", fb.shape)
    if dst.shape != (na, nb):
        raise _shape_mismatch("out", f"({na}, {nb})", dst.shape)
    if count.shape != (na,):
        raise _shape_mismatch("shared", f"({na},)", count.shape)
    for o in (4, 5):
        for j in range(6):
            if j != o and np.may_share_memory(arrays[o], arrays[j]):
                raise ValueError(f"{names[o]} must not overlap {names[j]}")
    total = np.zeros((na, nb))
    matches = np.zeros(na, dtype=np.int64)
    for i in range(ka):
        for j in range(kb):
            rows = fa[:, i] == fb[j]
            if rows.any():
                matches += rows
                total[rows] += paired_iou_values(a[rows, i][:, None, :], b[None, :, j], offset)
    count[...] = matches
    dst[...] = np.divide(total, matches[:, None], out=np.zeros_like(total), where=matches[:, None] > 0)


def _overlap_over_frames(iou: np.ndarray, mean: bool) -> np.ndarray:
    """(P, K) per-frame IoUs → (P,): a sequential sum over K, then / K, as the C kernel adds."""
    total = iou[:, 0].copy()
    for k in range(1, iou.shape[1]):
        total += iou[:, k]
    return total / iou.shape[1] if mean else total


def nms_sorted(boxes: Any, order: Any, groups: Any, threshold: float, top_k: int, offset: float, keep: Any) -> None:
    """Greedy suppression along `order` (box indices by rank, each group's run contiguous, best first).

    boxes float64 (N, 4) or (N, K, 4) (overlap: the mean IoU over the K frames), groups int64 (N,) by box index;
    keep uint8 (N,) by rank: 1 where the box at that rank survives. Within a group's run a box goes when its
    overlap with a kept, better-ranked box is greater than `threshold`; with top_k >= 0 at most top_k survive
    per group.
    """
    offset = _finite_offset(offset)
    threshold, top_k = float(threshold), int(top_k)
    src = _array(boxes, "boxes", "float64")
    rank = _array(order, "order", "int64")
    grp = _array(groups, "groups", "int64")
    kept = _array(keep, "keep", "uint8", writable=True)
    if src.ndim not in (2, 3) or src.shape[-1] != 4:
        raise _shape_mismatch("boxes", "(N, 4) or (N, K, 4)", src.shape)
    n = src.shape[0]
    for name, arr in (("order", rank), ("groups", grp), ("keep", kept)):
        if arr.shape != (n,):
            raise _shape_mismatch(name, f"({n},) for {n} boxes", arr.shape)
    if src.ndim == 3 and src.shape[1] < 1:
        raise _shape_mismatch("boxes", "(N, K, 4) with K >= 1", src.shape)
    if any(np.may_share_memory(kept, other) for other in (src, rank, grp)):
        raise ValueError("keep must not overlap the other arguments")
    bad = np.flatnonzero((rank < 0) | (rank >= n))
    if len(bad):
        raise ValueError(f"order[{bad[0]}] = {rank[bad[0]]} is not an index into {n} boxes")
    if n == 0:
        return
    ranked = src.reshape(n, -1, 4)[rank]  # (N, K, 4) by rank
    run_groups = grp[rank]
    # Runs of equal consecutive groups; all runs advance together, one rank at a time, so the Python loop runs
    # as often as the longest run has members, not once per box.
    start = np.flatnonzero(np.concatenate(([True], run_groups[1:] != run_groups[:-1])))
    count = np.diff(np.append(start, n))
    end = start + count
    suppressed = np.zeros(n, dtype=bool)
    for r in range(int(count.max())):
        active = count > r
        pivot, stop = start[active] + r, end[active]
        live = ~suppressed[pivot] & (stop - pivot > 1)
        pivot, stop = pivot[live], stop[live]
        if len(pivot) == 0:
            continue
        later = stop - pivot - 1
        pivot_rep = np.repeat(pivot, later)
        cand = pivot_rep + 1 + np.arange(len(pivot_rep)) - np.repeat(np.cumsum(later) - later, later)
        open_ = ~suppressed[cand]
        pivot_rep, cand = pivot_rep[open_], cand[open_]
        overlap = _overlap_over_frames(paired_iou_values(ranked[pivot_rep], ranked[cand], offset), src.ndim == 3)
        suppressed[cand[overlap > threshold]] = True
    survive = ~suppressed
    if top_k >= 0:  # the first top_k survivors of each run
        so_far = np.cumsum(survive)
        before = np.concatenate(([0], so_far))[start]
        survive &= so_far - np.repeat(before, count) <= top_k
    kept[...] = survive
