"""Box-preserving augmentation of a whole sample: every frame and every box gets the same transform.

A tubelet detector learns motion from how boxes move between clips; an augmentation drawn per frame would
invent motion, so one draw covers a sample. All geometric steps (expand, crop, scale jitter, location
jitter, flip, final resize) only choose a *view* — a window on the source frame that becomes the output
image — so they collapse into one affine map: one `cv2.warpAffine` per frame, and boxes move by the same
map. Area outside the source (expand, jitter past the border) is filled with the normalisation mean, which
normalises to zero. Photometric distortion (brightness, contrast, saturation, hue) is affine in colour
space too, so it is one 3×4 colour matrix applied to all frames at once.

Crops are accepted only when they keep the centre of every box — every tubelet at every clip end —
inside, as SSD / ACT keep box centres; unlike SSD we reject the crop rather than drop the tubelet,
because a dropped tubelet whose actor is still half visible would teach the centre branch that a visible
actor is background. Scale and location jitter follow the same rule (skipped when they would break it).

Coordinates are continuous, pixel i covering [i, i+1): a box (x1, y1, x2, y2) filled over pixels
x1..x2-1 maps onto the output pixels its transformed corners bound.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import IMAGENET_MEAN

# Rec. 601 luma weights in BGR order: the grey a saturation change blends towards.
_LUMA_BGR = np.array([0.114, 0.587, 0.299])


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each augmentation step; defaults follow SSD / ACT / MOC practice."""

    photometric_prob: float = 0.5  # whole photometric block; inside it each distortion has probability 0.5
    brightness_delta: float = 32.0  # added to every channel, uniform in ±delta (0-255 scale)
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: float = 18.0  # degrees of rotation about the grey axis, uniform in ±delta
    expand_prob: float = 0.5
    expand_max_ratio: float = 4.0  # canvas side / frame side
    crop_prob: float = 0.5
    crop_min_scale: float = 0.3  # crop side as a fraction of the current view side
    crop_aspect_range: tuple[float, float] = (0.5, 2.0)  # (h/H) / (w/W) of the crop
    crop_trials: int = 50
    scale_jitter_prob: float = 0.5
    scale_jitter: float = 0.2  # content scaled by independent x / y factors in [1 - s, 1 + s]
    location_jitter_prob: float = 0.5
    location_jitter: float = 0.1  # view shifted by up to this fraction of its size
    flip_prob: float = 0.5

    @classmethod
    def training(cls, expand_crop: bool = True) -> AugmentConfig:
        """The augmentation `amma-edge train` uses; without expand and crop, people keep close to their recorded
        size (`TrainConfig.expand_crop`). One place, so that benches measure what training draws."""
        return cls() if expand_crop else cls(expand_prob=0.0, crop_prob=0.0)

    def __post_init__(self) -> None:
        for name in ("photometric_prob", "expand_prob", "crop_prob", "scale_jitter_prob", "location_jitter_prob",
                     "flip_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise AmmaEdgeError(f"augmentation {name} must be a probability in [0, 1], got {getattr(self, name)}")
        for name in ("contrast_range", "saturation_range", "crop_aspect_range"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise AmmaEdgeError(f"augmentation {name} must be (low, high) with 0 <= low <= high, got {(lo, hi)}")
        if self.expand_max_ratio < 1:
            raise AmmaEdgeError(f"expand_max_ratio must be at least 1 (1 disables expand), got {self.expand_max_ratio}")
        if not 0 < self.crop_min_scale <= 1:
            raise AmmaEdgeError(f"crop_min_scale must be in (0, 1], got {self.crop_min_scale}")
        if not 0 <= self.scale_jitter < 1:
            raise AmmaEdgeError(f"scale_jitter must be in [0, 1), got {self.scale_jitter}")
        if self.location_jitter < 0 or self.brightness_delta < 0 or self.hue_delta < 0 or self.crop_trials < 0:
            raise AmmaEdgeError("location_jitter, brightness_delta, hue_delta and crop_trials must not be negative")


@dataclass(frozen=True)
class View:
    """The window (x0, y0, w, h) of the source frame, in source pixels, that becomes the output; `flip` mirrors it."""

    x0: float
    y0: float
    w: float
    h: float
    flip: bool = False

    def matrix(self, output_size: tuple[int, int]) -> np.ndarray:
        """2×3 affine from continuous source coordinates to continuous output coordinates."""
        out_h, out_w = output_size
        sx, sy = out_w / self.w, out_h / self.h
        if self.flip:
            return np.array([[-sx, 0.0, out_w + sx * self.x0], [0.0, sy, -sy * self.y0]])
        return np.array([[sx, 0.0, -sx * self.x0], [0.0, sy, -sy * self.y0]])


def mean_fill(mean_rgb: Sequence[float] = IMAGENET_MEAN) -> tuple[float, float, float]:
    """BGR 0-255 colour of a normalisation mean given in RGB 0-1: the fill that normalises to zero."""
    return (mean_rgb[2] * 255.0, mean_rgb[1] * 255.0, mean_rgb[0] * 255.0)


def augment_clip(
    frames: np.ndarray | Sequence[np.ndarray],
    boxes: np.ndarray,
    output_size: tuple[int, int],
    config: AugmentConfig,
    rng: np.random.Generator,
    fill: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Augment equal-size uint8 BGR frames and their boxes (..., 4) alike; return (N, h, w, 3) uint8 and boxes.

    The output boxes are clipped to the output image and are float32 in output pixels.
    """
    height, width = _frame_size(frames)
    boxes = np.asarray(boxes, dtype=np.float64)
    colour = photometric_matrix(config, rng) if rng.random() < config.photometric_prob else None
    view = sample_view((height, width), boxes, config, rng)
    if colour is not None:
        frames = apply_colour(frames, colour)
    return warp_clip(frames, boxes, view, output_size, fill)


def resize_clip(
    frames: np.ndarray | Sequence[np.ndarray],
    boxes: np.ndarray,
    output_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation transform: the whole frame resized to `output_size` (aspect not kept, as in training)."""
    height, width = _frame_size(frames)
    return warp_clip(frames, boxes, View(0.0, 0.0, float(width), float(height)), output_size)


def sample_view(
    frame_size: tuple[int, int], boxes: np.ndarray, config: AugmentConfig, rng: np.random.Generator
) -> View:
    """Draw expand, crop, scale jitter, location jitter and flip as one view keeping every box centre inside."""
    height, width = frame_size
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2

    def keeps_centres(x0, y0, w, h) -> np.ndarray:  # scalars or arrays of candidate windows
        x0, y0, w, h = (np.asarray(v, dtype=np.float64)[..., None] for v in (x0, y0, w, h))
        return np.all((cx > x0) & (cx < x0 + w) & (cy > y0) & (cy < y0 + h), axis=-1)

    x0, y0, w, h = 0.0, 0.0, float(width), float(height)
    if rng.random() < config.expand_prob and config.expand_max_ratio > 1:
        ratio = rng.uniform(1.0, config.expand_max_ratio)
        x0, y0 = -rng.uniform(0.0, w * (ratio - 1)), -rng.uniform(0.0, h * (ratio - 1))
        w, h = w * ratio, h * ratio
    if rng.random() < config.crop_prob and config.crop_trials > 0:
        # All trials drawn at once; the first that passes both tests wins, as a sequential retry loop would.
        fw, fh, ux, uy = rng.uniform(0.0, 1.0, size=(4, config.crop_trials))
        fw = config.crop_min_scale + (1.0 - config.crop_min_scale) * fw
        fh = config.crop_min_scale + (1.0 - config.crop_min_scale) * fh
        cw, ch = w * fw, h * fh
        cx0, cy0 = x0 + ux * (w - cw), y0 + uy * (h - ch)
        lo, hi = config.crop_aspect_range
        ok = (fh / fw >= lo) & (fh / fw <= hi) & keeps_centres(cx0, cy0, cw, ch)
        if ok.any():
            i = int(np.argmax(ok))
            x0, y0, w, h = float(cx0[i]), float(cy0[i]), float(cw[i]), float(ch[i])
    if rng.random() < config.scale_jitter_prob and config.scale_jitter > 0:
        fx, fy = rng.uniform(1 - config.scale_jitter, 1 + config.scale_jitter, size=2)
        sw, sh = w / fx, h / fy
        sx0, sy0 = x0 + (w - sw) / 2, y0 + (h - sh) / 2
        if keeps_centres(sx0, sy0, sw, sh):
            x0, y0, w, h = sx0, sy0, sw, sh
    if rng.random() < config.location_jitter_prob and config.location_jitter > 0:
        dx, dy = rng.uniform(-config.location_jitter, config.location_jitter, size=2)
        if keeps_centres(x0 + dx * w, y0 + dy * h, w, h):
            x0, y0 = x0 + dx * w, y0 + dy * h
    return View(float(x0), float(y0), float(w), float(h), flip=bool(rng.random() < config.flip_prob))


def transform_boxes(boxes: np.ndarray, view: View, output_size: tuple[int, int]) -> np.ndarray:
    """Boxes (..., 4) in source pixels mapped through `view` into output pixels, clipped to the output."""
    boxes = np.asarray(boxes, dtype=np.float64)
    m = view.matrix(output_size)
    xs = boxes[..., 0::2] * m[0, 0] + m[0, 2]
    ys = boxes[..., 1::2] * m[1, 1] + m[1, 2]
    if view.flip:
        xs = xs[..., ::-1]
    out = np.stack([xs[..., 0], ys[..., 0], xs[..., 1], ys[..., 1]], axis=-1)
    out_h, out_w = output_size
    np.clip(out[..., 0::2], 0, out_w, out=out[..., 0::2])
    np.clip(out[..., 1::2], 0, out_h, out=out[..., 1::2])
    return out.astype(np.float32)


def warp_clip(
    frames: np.ndarray | Sequence[np.ndarray],
    boxes: np.ndarray,
    view: View,
    output_size: tuple[int, int],
    fill: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render `view` of every frame at `output_size` (one warpAffine per frame) and move the boxes with it."""
    out_h, out_w = output_size
    m = view.matrix(output_size)
    # cv2 maps pixel indices, whose centres sit at continuous coordinate index + 0.5.
    m_index = m.copy()
    m_index[:, 2] += (m[0, 0] + m[0, 1]) * 0.5 - 0.5, (m[1, 0] + m[1, 1]) * 0.5 - 0.5
    fill = tuple(float(v) for v in (fill if fill is not None else mean_fill()))
    height, width = _frame_size(frames)
    # A view inside the frame shows no canvas: replicate the edge so that edge pixels are not blended with the
    # fill (this makes the plain resize identical to cv2.resize, as the runtime's preprocessing does it).
    inside = view.x0 >= 0 and view.y0 >= 0 and view.x0 + view.w <= width and view.y0 + view.h <= height
    border = cv2.BORDER_REPLICATE if inside else cv2.BORDER_CONSTANT
    out = np.empty((len(frames), out_h, out_w, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        cv2.warpAffine(frame, m_index, (out_w, out_h), dst=out[i], flags=cv2.INTER_LINEAR,
                       borderMode=border, borderValue=fill)
    return out, transform_boxes(boxes, view, output_size)


def photometric_matrix(config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """A random 3×4 BGR colour map: brightness, contrast, saturation, hue, each drawn with probability 0.5."""
    linear = np.eye(3)
    offset = 0.0
    if rng.random() < 0.5:
        offset = rng.uniform(-config.brightness_delta, config.brightness_delta)
    if rng.random() < 0.5:
        linear = linear * rng.uniform(*config.contrast_range)
    if rng.random() < 0.5:
        linear = saturation_matrix(rng.uniform(*config.saturation_range)) @ linear
    if rng.random() < 0.5:
        linear = hue_matrix(rng.uniform(-config.hue_delta, config.hue_delta)) @ linear
    # The offset is added before the linear part; grey stays grey under both, so it only scales.
    return np.concatenate([linear, (linear @ np.full(3, offset))[:, None]], axis=1)


def saturation_matrix(factor: float) -> np.ndarray:
    """Blend towards (factor < 1) or away from (factor > 1) each pixel's luma grey; 0 gives greyscale."""
    return factor * np.eye(3) + (1.0 - factor) * np.outer(np.ones(3), _LUMA_BGR)


def hue_matrix(degrees: float) -> np.ndarray:
    """Rotation of colour space about the grey axis (1, 1, 1): shifts hue, leaves grey pixels unchanged."""
    a = math.radians(degrees)
    u = np.full(3, 1.0 / math.sqrt(3.0))
    cross = np.array([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])
    return math.cos(a) * np.eye(3) + math.sin(a) * cross + (1.0 - math.cos(a)) * np.outer(u, u)


def apply_colour(frames: np.ndarray | Sequence[np.ndarray], matrix: np.ndarray) -> np.ndarray:
    """Apply a 3×4 colour map to all frames in one call, saturating to uint8; returns (N, H, W, 3)."""
    stack = np.ascontiguousarray(np.stack(frames) if not isinstance(frames, np.ndarray) else frames)
    n, h, w, _ = stack.shape
    return cv2.transform(stack.reshape(n * h, w, 3), matrix.astype(np.float64)).reshape(n, h, w, 3)


def _frame_size(frames: np.ndarray | Sequence[np.ndarray]) -> tuple[int, int]:
    if len(frames) == 0:
        raise ValueError("a clip needs at least one frame")
    shapes = {tuple(f.shape) for f in frames}
    if len(shapes) != 1:
        raise AmmaEdgeError(f"the frames of one sample differ in size ({sorted(shapes)}): re-extract the video's "
                            "frames at one resolution")
    shape = shapes.pop()
    if len(shape) != 3 or shape[2] != 3 or frames[0].dtype != np.uint8:
        raise AmmaEdgeError(f"frames must be uint8 BGR images (H, W, 3), got shape {shape} and dtype "
                            f"{frames[0].dtype}; decode them with cv2.imread")
    return shape[0], shape[1]
