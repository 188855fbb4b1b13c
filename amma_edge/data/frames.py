"""Decoding the frames of a dataset video, by 1-based frame number, from an image folder or a video file.

A dataset's `frame_dir` / `frame_pattern` (see `GroundTruth`) name either one image per frame
(`"{video}/{frame:05d}.jpg"`, the published UCF101-24 / JHMDB-21 layout) or one video file per video
(`"{video}.avi"`: a pattern without a `{frame}` field). Both give BGR uint8 H×W×3 arrays, as cv2 does, so
the rest of the pipeline never needs to know which one it reads.

Seeking in a compressed video is slow and, for some codecs, lands on the wrong frame, while training and
evaluation read frames mostly in order; `VideoFile` therefore keeps its capture open and only seeks when
the request jumps backwards or far ahead.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.errors import AmmaEdgeError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg")

# Reading and discarding up to this many frames is cheaper than a seek (which decodes from the previous
# key frame anyway) and never lands on the wrong frame.
MAX_FORWARD_SKIP = 64


def is_video_pattern(frame_pattern: str) -> bool:
    """True when `frame_pattern` names one video file per video rather than one image per frame."""
    return "{frame" not in frame_pattern


def _check_index(frame: int, video: str) -> int:
    if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 1:
        raise AmmaEdgeError(f"frame {frame!r} of video {video!r} does not exist: frames are numbered from 1")
    return int(frame)


class ImageSequence:
    """One image file per frame; `pattern` is a path with `{frame}` (and optionally `{video}`) fields."""

    def __init__(self, pattern: str | os.PathLike, video: str = ""):
        self.pattern = str(pattern)
        self.video = video

    def path(self, frame: int) -> Path:
        return Path(self.pattern.format(video=self.video, frame=frame))

    def read(self, frame: int) -> np.ndarray:
        frame = _check_index(frame, self.video)
        path = self.path(frame)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            if not path.is_file():
                raise AmmaEdgeError(
                    f"frame {frame} of video {self.video!r} is missing: there is no file {path}. Extract the "
                    "frames of this video again, or check the dataset root (`amma-edge data check` lists every "
                    "missing frame)"
                )
            raise AmmaEdgeError(
                f"frame {frame} of video {self.video!r} cannot be decoded: {path} is not a readable image "
                "(truncated or corrupt). Extract the frames of this video again"
            )
        return image

    def close(self) -> None:
        pass


class VideoFile:
    """One video file; frame k is the k-th decoded frame. Reading in order never seeks."""

    def __init__(self, path: str | os.PathLike, video: str = ""):
        self.path = Path(path)
        self.video = video or self.path.stem
        self.seeks = 0  # how often the capture was repositioned; in-order reading keeps it at 0
        self._cap: cv2.VideoCapture | None = None
        self._next = 1  # the frame the next cap.read() returns
        self._last: tuple[int, np.ndarray] | None = None

    def _open(self) -> cv2.VideoCapture:
        if self._cap is None:
            if not self.path.is_file():
                raise AmmaEdgeError(
                    f"video {self.video!r} is missing: there is no file {self.path}. Check the dataset root or "
                    "put the video file back"
                )
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise AmmaEdgeError(
                    f"video {self.video!r} cannot be opened: {self.path} is corrupt or in a format this OpenCV "
                    "build cannot decode. Re-encode it (e.g. to H.264 .mp4) or extract its frames to images"
                )
            self._cap, self._next = cap, 1
        return self._cap

    def frame_count(self) -> int:
        """The frame count the container claims (may be approximate for some formats); 0 if unknown."""
        return max(0, int(self._open().get(cv2.CAP_PROP_FRAME_COUNT)))

    def read(self, frame: int) -> np.ndarray:
        frame = _check_index(frame, self.video)
        if self._last is not None and self._last[0] == frame:
            return self._last[1].copy()
        cap = self._open()
        if frame < self._next or frame - self._next > MAX_FORWARD_SKIP:
            cap.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
            self._next = frame
            self.seeks += 1
        while self._next < frame:
            if not cap.grab():
                self._missing(frame)
            self._next += 1
        ok, image = cap.read()
        if not ok or image is None:
            self._missing(frame)
        self._next = frame + 1
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        self._last = (frame, image)
        return image.copy()

    def _missing(self, frame: int) -> None:
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self._cap is not None else 0
        # The capture is now at an unknown position; reopen on the next read instead of trusting it.
        self.close()
        has = f"it has {count} frames" if count > 0 else "it ends before that frame"
        raise AmmaEdgeError(
            f"frame {frame} of video {self.video!r} is missing: {self.path} cannot deliver it ({has}). The "
            "annotations expect more frames than the video file holds: use the original video or fix nframes"
        )

    def close(self) -> None:
        if getattr(self, "_cap", None) is not None:
            self._cap.release()
        self._cap, self._next, self._last = None, 1, None

    def __del__(self) -> None:
        self.close()


def escape_format(text: str) -> str:
    """`text` as a literal inside a str.format pattern (dataset roots may contain braces)."""
    return text.replace("{", "{{").replace("}", "}}")


def open_frames(root: str | os.PathLike, gt: GroundTruth, video: str) -> ImageSequence | VideoFile:
    """The frames of `video` of the dataset at `root`, wherever `gt.frame_dir` / `gt.frame_pattern` put them."""
    base = Path(root) / gt.frame_dir
    if is_video_pattern(gt.frame_pattern):
        return VideoFile(base / gt.frame_pattern.format(video=video), video)
    return ImageSequence(escape_format(str(base)) + os.sep + gt.frame_pattern, video)


class FrameReader:
    """`reader(video, frame) -> BGR uint8` over a whole dataset, the `read_frame` the training datasets take.

    Keeps the last `max_open` video files open so interleaved reading of a few videos stays sequential.
    Picklable: DataLoader workers get a copy without open captures and open their own.
    """

    def __init__(self, root: str | os.PathLike, gt: GroundTruth, max_open: int = 4):
        self.root = Path(root)
        self.gt = gt
        self.max_open = max(1, max_open)
        self._open: OrderedDict[str, ImageSequence | VideoFile] = OrderedDict()

    def frames(self, video: str) -> ImageSequence | VideoFile:
        source = self._open.get(video)
        if source is None:
            source = open_frames(self.root, self.gt, video)
            self._open[video] = source
            while len(self._open) > self.max_open:
                _, old = self._open.popitem(last=False)
                old.close()
        else:
            self._open.move_to_end(video)
        return source

    def __call__(self, video: str, frame: int) -> np.ndarray:
        return self.frames(video).read(frame)

    def close(self) -> None:
        for source in self._open.values():
            source.close()
        self._open.clear()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_open"] = OrderedDict()
        return state
