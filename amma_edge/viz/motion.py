"""A strip of frames beside their accumulated micro-motion maps.

The map of a clip of t frames is the sum of AMMA's RGB-difference micro-motion (the `rgb_diff` variant,
computed by the runtime's C kernel: per-pixel L2 distance between the newest frame and each older one, on
max-pooled normalised frames) over its t − 1 differences. It is the signal the motion stream is built on: a
`conv_diff` model learns a filter over the same frame differences. Static background stays dark; the moving
limbs light up, which is what separates a person sitting down from one standing up.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from amma_edge.runtime import native

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def accumulated_motion(frames: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """t BGR uint8 frames → (H, W) float32: the summed micro-motion of the clip at the network's input `size`."""
    clip = native.preprocess_batch(list(frames), mean=IMAGENET_MEAN, std=IMAGENET_STD, size=size)
    motion = native.rgb_diff_motion(clip)
    # eps under the square root gives static pixels a floor of sqrt(eps); remove it so they draw black.
    return np.maximum(motion - np.sqrt(native.MICRO_MOTION_EPS), 0).sum(axis=0)


def colorize(motion: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) → BGR uint8 with the inferno colour map, `scale` mapping to full brightness."""
    level = np.clip(motion / max(scale, 1e-6) * 255.0, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(level, cv2.COLORMAP_INFERNO)


def motion_strip(clips: Sequence[Sequence[np.ndarray]], *, size: tuple[int, int] = (288, 288),
                 tile_height: int = 180, labels: Sequence[str] | None = None) -> np.ndarray:
    """One row per clip: its newest frame, its motion map, and the map blended over the frame.

    All maps share one brightness scale (the 99th percentile over the strip), so rows compare honestly.
    """
    maps = [accumulated_motion(clip, size) for clip in clips]
    scale = float(np.percentile(np.concatenate([m.ravel() for m in maps]), 99.5)) if maps else 1.0
    rows = []
    for i, (clip, motion) in enumerate(zip(clips, maps)):
        frame = clip[-1]
        h, w = frame.shape[:2]
        tile_width = max(1, round(w * tile_height / h))
        shown = cv2.resize(frame, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
        heat = cv2.resize(colorize(motion, scale), (tile_width, tile_height), interpolation=cv2.INTER_LINEAR)
        blend = cv2.addWeighted(shown, 0.45, heat, 0.75, 0)
        row = np.concatenate([shown, _gap(tile_height), heat, _gap(tile_height), blend], axis=1)
        if labels is not None:
            (tw, th), _ = cv2.getTextSize(labels[i], cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
            cv2.rectangle(row, (2, 2), (10 + tw, 10 + th), (0, 0, 0), -1)
            cv2.putText(row, labels[i], (6, 6 + th), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
        rows.append(np.full((4, row.shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0) if rows else np.zeros((1, 1, 3), np.uint8)


def _gap(height: int) -> np.ndarray:
    return np.full((height, 4, 3), 255, np.uint8)
