"""The runtime's per-clip hot paths: frame preprocessing, RGB-difference micro-motion, the feature cache, tubelet
decoding and the overlap kernels of the linker.

Each runs as a C kernel (`amma_edge.runtime._native`, built by setup.py from `csrc/`) when the extension is
built and as its NumPy twin (`reference.py`) when it is not, so an uninstalled checkout still works, only
slower; `NATIVE_AVAILABLE` and `native_unavailable_reason()` say which. Both raise the same errors for the same
bad arguments. Results go into caller-owned buffers (`out`) so the device loop allocates nothing per clip.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from amma_edge.runtime import reference
from amma_edge.runtime.reference import MICRO_MOTION_EPS

# Must match AMMA_NATIVE_API_VERSION in csrc/native.h: a build from older sources is not used.
API_VERSION = 2

_BUILD_HINT = "build it with `python setup.py build_ext --inplace` (or `pip install -e .`) to use the C kernels"

try:
    from amma_edge.runtime import _native  # type: ignore[attr-defined]
except ImportError as exc:
    _native = None
    _REASON: str | None = f"the C extension amma_edge.runtime._native cannot be imported ({exc}); {_BUILD_HINT}"
else:
    if getattr(_native, "API_VERSION", None) != API_VERSION:
        _REASON = (f"the built C extension has API version {getattr(_native, 'API_VERSION', None)}, these sources "
                   f"expect {API_VERSION}: it is stale; {_BUILD_HINT}")
        _native = None
    else:
        _REASON = None

NATIVE_AVAILABLE: bool = _native is not None
_impl: Any = _native if _native is not None else reference


def native_unavailable_reason() -> str | None:
    """Why the NumPy fallback is in use, or None when the C kernels are."""
    return _REASON


def _frame_count(frames: Any) -> int:
    """How many frames `frames` holds, 0 when that cannot be told (the kernel then names the problem)."""
    try:
        return memoryview(frames).shape[0]
    except TypeError:
        pass  # not a buffer: a sequence of frames
    except IndexError:
        return 0
    try:
        return len(frames)
    except TypeError:
        return 0


def _as_array(buffer: Any) -> np.ndarray:
    return buffer if isinstance(buffer, np.ndarray) else np.asarray(buffer)


def _new_output(out: Any, size: Sequence[int] | None, lead: tuple[int, ...]) -> Any:
    """`out` as given, or a new float32 array of lead + size when only `size` = (OH, OW) is."""
    if out is not None:
        if size is not None:
            raise TypeError("pass either out (a preallocated float32 array) or size=(OH, OW), not both")
        return out
    if size is None:
        raise TypeError("pass out (a preallocated float32 array) or size=(OH, OW) for a new one")
    size = tuple(size)
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in size):
        raise ValueError(f"size must be (OH, OW), two positive integers, got {size}")
    return np.empty(lead + size, dtype=np.float32)


def preprocess(
    frame: Any,
    out: Any = None,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    size: Sequence[int] | None = None,
) -> np.ndarray:
    """One uint8 (H, W, 3) BGR frame → float32 (3, OH, OW) RGB, bilinearly resized and (x/255 − mean)/std.

    `frame` is any C-contiguous buffer with that shape (a ring slot as `memoryview(slot).cast("B", (H, W, 3))`
    works). The result is written into `out`, a writable C-contiguous float32 (3, OH, OW) buffer that fixes the
    output size, or into a new array when only `size` = (OH, OW) is given. mean and std are RGB on a 0-1 scale
    and have no default on purpose: they belong to the model (config.mean, config.std).
    Sampling is cv2.resize INTER_LINEAR's, in float32: within one grey level of cv2.resize + normalise.
    """
    out = _new_output(out, size, (3,))
    _impl.preprocess(frame, out, mean, std)
    return _as_array(out)


def preprocess_batch(
    frames: Any,
    out: Any = None,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    size: Sequence[int] | None = None,
) -> np.ndarray:
    """t frames → float32 (t, 3, OH, OW): `preprocess` for a whole clip in one call (one GIL release).

    `frames` is one uint8 (t, H, W, 3) buffer or a sequence of (H, W, 3) buffers (the ring slots of a clip;
    they may differ in size).
    """
    if out is None and size is not None:
        out = _new_output(None, size, (max(_frame_count(frames), 1), 3))
    else:
        out = _new_output(out, size, ())
    _impl.preprocess_batch(frames, out, mean, std)
    return _as_array(out)


def rgb_diff_motion(clip: Any, out: Any = None, *, eps: float = MICRO_MOTION_EPS) -> np.ndarray:
    """Normalised float32 clip (t, 3, H, W) → micro-motion (t − 1, H, W), the model's MicroMotion("rgb_diff").

    Written into `out` (writable float32 (t − 1, H, W); it may alias `clip`) or a new array.
    """
    if out is None:
        try:
            shape = memoryview(clip).shape
        except TypeError:
            shape = ()
        # A clip of the wrong shape gets a placeholder: the kernel checks clip first and names its shape.
        valid = len(shape) == 4 and shape[0] >= 2
        out = np.empty((shape[0] - 1, shape[2], shape[3]) if valid else (0,), dtype=np.float32)
    _impl.rgb_diff_motion(clip, out, float(eps))
    return _as_array(out)


def decode(center: Any, trajectory: Any, box: Any, boxes_out: Any, scores_out: Any, classes_out: Any, *,
           stride: int, input_size: Sequence[float], original_size: Sequence[float]) -> int:
    """Top-N tubelets of one sample into caller-owned buffers; returns N' <= N written (see reference.decode).

    center float32 (C, h, w), trajectory / box float32 (2K, h, w), all C-contiguous; boxes_out float32
    (N, K, 4), scores_out float32 (N,), classes_out int64 (N,). Sizes are (height, width).
    """
    return int(_impl.decode(center, trajectory, box, boxes_out, scores_out, classes_out, int(stride),
                            float(input_size[0]), float(input_size[1]), float(original_size[0]),
                            float(original_size[1])))


def box_iou(a: Any, b: Any, out: Any, offset: float = 0.0) -> None:
    """Pairwise IoU of float64 (N, 4) and (M, 4) C-contiguous boxes into out (N, M) float64."""
    _impl.box_iou(a, b, out, float(offset))


def aligned_tubelet_iou(a: Any, frames_a: Any, b: Any, frames_b: Any, out: Any, shared: Any,
                        offset: float = 0.0) -> None:
    """Mean IoU over shared frames (Na, Nb) and shared-frame counts (Na,); see reference.aligned_tubelet_iou."""
    _impl.aligned_tubelet_iou(a, frames_a, b, frames_b, out, shared, float(offset))


def nms_sorted(boxes: Any, order: Any, groups: Any, threshold: float, top_k: int | None, offset: float,
               keep: Any) -> None:
    """Greedy (tubelet) suppression along a grouped rank order; see reference.nms_sorted. top_k None: no limit."""
    _impl.nms_sorted(boxes, order, groups, float(threshold), -1 if top_k is None else int(top_k), float(offset),
                     keep)


class FeatureCache(reference.FeatureCache):
    """The K newest clip features as one contiguous, copy-free (K, C, h, w) view; see reference.FeatureCache.

    Same class as the twin, with each push copied by the C kernel (GIL released) when it is built.
    """

    _write = staticmethod(_native.feature_cache_write if _native is not None else reference.feature_cache_write)


__all__ = [
    "API_VERSION",
    "MICRO_MOTION_EPS",
    "NATIVE_AVAILABLE",
    "FeatureCache",
    "aligned_tubelet_iou",
    "box_iou",
    "decode",
    "native_unavailable_reason",
    "nms_sorted",
    "preprocess",
    "preprocess_batch",
    "rgb_diff_motion",
]
