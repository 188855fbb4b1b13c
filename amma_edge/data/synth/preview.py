"""A contact sheet of a dataset: a few frames of each class with their ground-truth boxes and names.

It reads the frames back from disk, so what a person checks is what training will read, JPEG and all. It
works on any dataset in the amma-edge format, not only synthetic ones.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.errors import AmmaEdgeError
from amma_edge.fileio import atomic_write

_BOX = (60, 230, 60)
_TEXT = (255, 255, 255)


def _label(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.4) -> None:
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = org
    cv2.rectangle(img, (x - 1, y - h - 2), (x + w + 1, y + base), (0, 0, 0), -1)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT, 1, cv2.LINE_AA)


def _tile(gt: GroundTruth, root: Path, video: str, frame: int, scale: float) -> np.ndarray:
    path = gt.frame_path(root, video, frame)
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise AmmaEdgeError(f"cannot read frame {path}: the dataset is incomplete; regenerate it")
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for label, tubes in gt.gttubes.get(video, {}).items():
        for tube in tubes:
            for row in tube[tube[:, 0] == frame]:
                x1, y1, x2, y2 = (float(v) * scale for v in row[1:])
                cv2.rectangle(img, (int(x1), int(y1)), (round(x2), round(y2)), _BOX, 1, cv2.LINE_AA)
                _label(img, gt.labels[label], (int(x1) + 2, max(int(y1) - 3, 10)))
    _label(img, f"{video.split('/')[-1]} #{frame}", (3, img.shape[0] - 4), 0.35)
    return img


def contact_sheet(gt: GroundTruth, root: str | os.PathLike, *, per_class: int = 5, scale: float = 0.75) -> np.ndarray:
    """One row per class (its first video with a tube): `per_class` frames spread over the tube."""
    root = Path(root)
    rows = []
    for label, name in enumerate(gt.labels):
        video = next((v for v in gt.videos if gt.gttubes.get(v, {}).get(label)), None)
        if video is None:
            continue
        tube = gt.gttubes[video][label][0]
        picks = tube[np.linspace(0, len(tube) - 1, per_class).round().astype(int), 0].astype(int)
        tiles = [_tile(gt, root, video, int(f), scale) for f in picks]
        row = np.hstack([np.pad(t, ((1, 1), (1, 1), (0, 0))) for t in tiles])
        _label(row, name, (4, 14), 0.5)
        rows.append(row)
    if not rows:
        raise AmmaEdgeError("the dataset has no annotated tubes to preview")
    width = max(r.shape[1] for r in rows)
    return np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])


def write_preview(gt: GroundTruth, root: str | os.PathLike, path: str | os.PathLike, **kwargs) -> Path:
    """Write the contact sheet of the dataset at `root` to `path` (PNG), atomically."""
    sheet = contact_sheet(gt, root, **kwargs)
    ok, buf = cv2.imencode(".png", sheet)
    if not ok:
        raise RuntimeError("OpenCV could not encode the preview PNG")
    return atomic_write(path, lambda f: f.write(buf.tobytes()))
