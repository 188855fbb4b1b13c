"""The per-video streaming detector for frame-level models (A*): one pass per key frame over a window of past
frames, into the same online linker AMMA uses.

Every frame is a key frame. The window is the last `clip_len` frames spaced by `frame_stride`, with frame 1
repeated before the start of a video, which is what training's `window_frames` sampled. Detections become
two-frame tubelets (see `anchor_decode`) so the linker's overlap rule compares consecutive frames; when a tube
ends, its per-frame boxes are rebuilt from the key-frame detections alone (the tubelets' copied boxes at the
previous frame were only there to link), and its acceptance is decided on that span.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from amma_edge.errors import InputShapeError
from amma_edge.models.config import AStarConfig
from amma_edge.runtime.anchor_decode import FrameDetections, decode_anchors
from amma_edge.runtime.linking import (
    LinkedTube,
    LinkerConfig,
    TubeEnded,
    TubeEvent,
    TubeLinker,
    TubeStarted,
    TubeUpdated,
    interpolate_tube,
)

# detect: one window (T, 3, H, W) float32 → raw head outputs {"box": (A, 4, h, w), "objectness": (A, h, w),
# "classes": (A, C, h, w), ...} for that one sample.
Detect = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class FrameStep:
    frame: int
    detections: FrameDetections
    events: list[TubeEvent] = field(default_factory=list)

    def frame_detections(self, video_index: int) -> np.ndarray:
        """Rows (M, 8) of (video, frame, class, score, x1, y1, x2, y2), the frame-mAP layout."""
        d, n = self.detections, len(self.detections)
        return np.column_stack([np.full(n, video_index, np.float64), np.full(n, self.frame, np.float64),
                                d.classes.astype(np.float64), d.scores.astype(np.float64),
                                d.boxes.astype(np.float64)]) if n else np.zeros((0, 8))


class FrameWindowStream:
    """Feed it the preprocessed frames (3, H, W) of one video in order; it returns detections and tube events."""

    def __init__(self, detect: Detect, config: AStarConfig, *, original_size: tuple[int, int],
                 linker: LinkerConfig | None = None, frame_stride: int = 1, top_n: int = 100):
        if frame_stride < 1:
            raise InputShapeError(f"frame_stride must be at least 1, got {frame_stride}")
        self.detect, self.config, self.original_size = detect, config, tuple(original_size)
        self.frame_stride, self.top_n = frame_stride, top_n
        self.linker = TubeLinker(linker)
        self._span = (config.clip_len - 1) * frame_stride + 1
        self._recent: deque[np.ndarray] = deque(maxlen=self._span)
        self._anchors = np.asarray(config.anchors, dtype=np.float32)
        self._keys: dict[int, tuple[list[int], list[np.ndarray]]] = {}
        self.frame = 0

    def window(self) -> np.ndarray:
        """The model input (T, 3, H, W) ending at the newest frame."""
        recent = list(self._recent)
        padded = [recent[0]] * (self._span - len(recent)) + recent
        return np.stack(padded[::-1][::self.frame_stride][::-1])

    def push_frame(self, frame: np.ndarray) -> FrameStep:
        expected = (3, *self.config.input_size)
        if frame.shape != expected:
            raise InputShapeError(f"A* streams frames of shape {expected} (preprocessed), got {frame.shape}")
        self._recent.append(frame)
        self.frame += 1
        raw = self.detect(self.window())
        detections = decode_anchors(raw["box"], raw["objectness"], raw["classes"], self._anchors,
                                    stride=self.config.stride, input_size=self.config.input_size,
                                    original_size=self.original_size, top_n=self.top_n)
        events = self.linker.step(np.array([self.frame - 1, self.frame]), detections.as_tubelets())
        return FrameStep(self.frame, detections, self._rebuild(events))

    def finish(self) -> list[TubeEvent]:
        return self._rebuild(self.linker.finish())

    def _rebuild(self, events: list[TubeEvent]) -> list[TubeEvent]:
        out: list[TubeEvent] = []
        for event in events:
            if isinstance(event, (TubeStarted, TubeUpdated)):
                frames, boxes = self._keys.setdefault(event.tube_id, ([], []))
                frames.append(int(event.frames[-1]))
                boxes.append(np.asarray(event.boxes[-1], np.float32))
                out.append(event)
            elif isinstance(event, TubeEnded):
                frames, boxes = self._keys.pop(event.tube_id, ([], []))
                kept = slice(event.tube.first_tubelet, event.tube.first_tubelet + event.tube.num_tubelets)
                out.append(self._ended(event, np.array(frames[kept]), np.array(boxes[kept])) if frames else event)
            else:
                out.append(event)
        return out

    def _ended(self, event: TubeEnded, frames: np.ndarray, boxes: np.ndarray) -> TubeEnded:
        frames, boxes = interpolate_tube(frames, boxes.reshape(-1, 4))
        old = event.tube
        tube = LinkedTube(old.tube_id, old.label, old.score, frames, boxes, old.num_tubelets, old.first_tubelet)
        return TubeEnded(event.tube_id, event.label, self.linker.accepts(tube), tube)
