"""Annotated video: boxes, class names and scores drawn on every frame, written to .mp4 or .avi.

The video is written to a temporary file beside the target (same extension, so OpenCV picks the container)
and renamed over it when the run closes, so an interrupted run never leaves a truncated video under the
user's name; a run that is stopped with Ctrl-C still closes it and gets a complete, playable file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.runtime.sinks.base import FrameBoxes, Sink, StreamInfo

_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


def class_colour(label: int) -> tuple[int, int, int]:
    """A distinct, stable BGR colour per class (golden-angle hues)."""
    hue = int((label * 137.508) % 180)
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_boxes(image: np.ndarray, boxes: FrameBoxes, class_names: tuple[str, ...]) -> np.ndarray:
    """Draw `boxes` with "class score" labels onto `image` (in place) and return it."""
    h, w = image.shape[:2]
    thickness = max(1, round(min(h, w) / 240))
    scale = max(0.35, min(h, w) / 700)
    for box, score, label in zip(boxes.boxes, boxes.scores, boxes.classes):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        colour = class_colour(int(label))
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        name = class_names[int(label)] if 0 <= int(label) < len(class_names) else str(int(label))
        text = f"{name} {float(score):.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = y1 - th - base - 2 if y1 - th - base - 2 >= 0 else y1
        cv2.rectangle(image, (x1, top), (x1 + tw + 2, top + th + base + 2), colour, -1)
        cv2.putText(image, text, (x1 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return image


class VideoFileSink(Sink):
    wants_frames = True

    def __init__(self, path: str | Path, *, fps: float | None = None):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in _CODECS:
            raise AmmaEdgeError(f"annotated video {self.path} must end in {' or '.join(_CODECS)}")
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._tmp: Path | None = None
        self.frames_written = 0

    def open(self, info: StreamInfo) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=self.path.suffix)
        os.close(fd)
        self._tmp = Path(tmp)
        h, w = info.frame_size
        fourcc = cv2.VideoWriter_fourcc(*_CODECS[self.path.suffix.lower()])
        writer = cv2.VideoWriter(str(self._tmp), fourcc, float(self.fps or info.fps or 25.0), (w, h))
        if not writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise AmmaEdgeError(f"OpenCV cannot write {self.path.suffix} video here (no encoder for "
                                f"{_CODECS[self.path.suffix.lower()]}): write .avi instead, or install an OpenCV "
                                "build with FFmpeg")
        self._writer = writer

    def frame(self, index: int, image: np.ndarray, boxes: FrameBoxes) -> None:
        if self._writer is not None:
            self._writer.write(image)
            self.frames_written += 1

    def close(self, summary: dict[str, Any]) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        if self._tmp is not None:
            umask = os.umask(0)  # mkstemp made it 0600: give it the permissions an ordinary open() would
            os.umask(umask)
            os.chmod(self._tmp, 0o666 & ~umask)
            os.replace(self._tmp, self.path)
            self._tmp = None

    def abort(self) -> None:
        """Drop the partial video (the run failed before it could be closed)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def describe(self) -> str:
        return f"annotated video {self.path}"
