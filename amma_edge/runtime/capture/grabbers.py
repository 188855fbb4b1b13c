"""Frame grabbers: the part of a source that produces one BGR uint8 (H, W, 3) frame at a time.

A grabber decodes into the slot it is given when it can (OpenCV's `VideoCapture.read(image=slot)` fills a
matching array in place), so the frame is written once, into the ring. Its `live` flag says whether it runs on
real time (cameras, streams: frames are dropped when the pipeline falls behind, and a lost connection is
retried) or not (files, folders, the synthetic generator: nothing is dropped).
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from amma_edge.errors import AmmaEdgeError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _into(slot: np.ndarray | None, image: np.ndarray) -> np.ndarray:
    """`image` written into `slot` (resized if the stream changed resolution), or `image` itself without one."""
    if slot is None:
        return image
    if image is slot or (image.shape == slot.shape and image.__array_interface__["data"][0] == slot.ctypes.data):
        return slot
    if image.shape == slot.shape:
        np.copyto(slot, image)
    else:  # a camera or stream that changed resolution: keep the ring's size
        cv2.resize(image, (slot.shape[1], slot.shape[0]), dst=slot, interpolation=cv2.INTER_LINEAR)
    return slot


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class Grabber:
    """Base: `open()`, then `grab(slot)` until it returns None, then `close()`."""

    live: bool = False

    def __init__(self, description: str):
        self.description = description
        self.fps: float | None = None
        self.exhausted = False  # True once a finite stream has given its last frame (no reconnect then)

    def open(self) -> None:
        """Connect or open; raise AmmaEdgeError with the fix when that is impossible."""

    def grab(self, slot: np.ndarray | None) -> np.ndarray | None:
        """The next frame (in `slot` when given), or None at the end of the stream or on a failed read."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device, file or connection; open() may be called again (reconnect)."""


class OpenCVGrabber(Grabber):
    """Anything cv2.VideoCapture opens: files, V4L2 cameras, RTSP, GStreamer pipelines."""

    def __init__(self, target: str | int, api: int, *, live: bool, description: str, hint: str = ""):
        super().__init__(description)
        self.target, self.api, self.live, self.hint = target, api, live, hint
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        cap = cv2.VideoCapture(self.target, self.api)
        if not cap.isOpened():
            cap.release()
            raise AmmaEdgeError(f"cannot open {self.description}{': ' + self.hint if self.hint else ''}")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else None
        self._cap = cap

    def grab(self, slot: np.ndarray | None) -> np.ndarray | None:
        if self._cap is None:
            return None
        ok, image = self._cap.read(image=slot) if slot is not None else self._cap.read()
        if not ok or image is None:
            return None
        return _into(slot, _bgr(image))

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderGrabber(Grabber):
    """The images of a folder in name order (a dataset's frame folder: 00001.jpg, 00002.jpg, ...)."""

    def __init__(self, folder: Path, fps: float | None = None):
        super().__init__(f"image folder {folder}")
        self.folder = folder
        self.fps = fps
        self._files: Iterator[Path] = iter(())

    def open(self) -> None:
        if not self.folder.is_dir():
            raise AmmaEdgeError(f"{self.folder} is not a folder")
        files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise AmmaEdgeError(f"{self.folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self._files = iter(files)

    def grab(self, slot: np.ndarray | None) -> np.ndarray | None:
        path = next(self._files, None)
        if path is None:
            self.exhausted = True
            return None
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise AmmaEdgeError(f"{path} is not a readable image (truncated or corrupt)")
        return _into(slot, image)


class SyntheticGrabber(Grabber):
    """The synthetic action generator as a camera: videos of `classes` played back to back.

    With `live`, frames come at `fps` in real time (and are dropped when the pipeline falls behind, like a
    camera's); otherwise as fast as they are rendered, none dropped.

    Rendering is Python and holds the GIL, which slows a PyTorch-eager pipeline beside it (every one of its
    hundreds of small ops must win the GIL back from the capture thread). `prerender` renders a finite stream
    into memory at open, so capture is then a copy, as a hardware decoder's would be: use it for benchmarks.
    """

    def __init__(self, *, seed: int, classes: Sequence[str] | None, size: tuple[int, int], frames: int | None,
                 fps: float, live: bool, start_index: int = 0, prerender: bool = False):
        from amma_edge.data.synth import CLASSES
        from amma_edge.data.synth.generator import check_classes

        super().__init__(f"synthetic stream (seed {seed}, {size[0]}x{size[1]}, "
                         f"{'endless' if frames is None else f'{frames} frames'})")
        if prerender and frames is None:
            raise AmmaEdgeError("a prerendered synthetic stream needs frames=N (an endless one cannot be held in memory)")
        self.seed, self.size, self.frames, self.live, self.start_index = seed, size, frames, live, start_index
        self.prerender = prerender
        self._rendered: list[np.ndarray] | None = None
        self.classes = check_classes(classes or CLASSES)
        self.fps = fps
        self._stream: Iterator[np.ndarray] = iter(())
        self._next_due = 0.0

    def open(self) -> None:
        from amma_edge.data.synth import synthetic_stream

        width, height = self.size
        stream = synthetic_stream(self.seed, width=width, height=height, fps=self.fps, classes=self.classes,
                                  start_index=self.start_index)
        images = (f.image for f in stream)
        self._stream = itertools.islice(images, self.frames) if self.frames is not None else images
        if self.prerender:
            if self._rendered is None:
                self._rendered = list(self._stream)
            self._stream = iter(self._rendered)
        self._next_due = time.monotonic()
        self.exhausted = False

    def grab(self, slot: np.ndarray | None) -> np.ndarray | None:
        image = next(self._stream, None)
        if image is None:
            self.exhausted = True
            return None
        if self.live:  # play at the camera's rate
            self._next_due += 1.0 / self.fps
            delay = self._next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                self._next_due = time.monotonic()
        return _into(slot, image)
