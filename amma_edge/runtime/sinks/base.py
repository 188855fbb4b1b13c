"""Where the pipeline's results go. A sink gets the stream's description once, every frame (annotated), every
reported tube event, and the run's summary at the end; `close` must leave its output complete.

Outputs are named like sources, by URI: `display://0`, `file://out.mp4` or any path ending in .mp4 / .avi
(annotated video), .jsonl (tube events), .json (the run summary).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from amma_edge.errors import AmmaEdgeError

VIDEO_SUFFIXES = (".mp4", ".avi")


@dataclass(frozen=True)
class StreamInfo:
    """What sinks need to know before the first frame."""

    frame_size: tuple[int, int]  # (height, width)
    fps: float
    class_names: tuple[str, ...]
    source: str
    model: str


@dataclass(frozen=True)
class FrameBoxes:
    """Detections drawn on one frame: boxes (N, 4) x1, y1, x2, y2 in frame pixels, scores (N,), classes (N,)."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    classes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)


class Sink:
    """Base: every hook is optional."""

    #: whether `frame` needs the annotated image (the pipeline skips drawing when no sink does)
    wants_frames: bool = False

    def open(self, info: StreamInfo) -> None: ...

    def frame(self, index: int, image: np.ndarray, boxes: FrameBoxes) -> None:
        """Frame `index` (1-based) with `boxes` drawn; `image` is only valid during the call."""

    def events(self, events: list[dict[str, Any]]) -> None: ...

    def close(self, summary: dict[str, Any]) -> None: ...

    def stop_requested(self) -> bool:
        """Whether the user asked this sink to end the run (closing a display window)."""
        return False

    def describe(self) -> str:
        return type(self).__name__


def open_sink(uri: str, *, fps: float | None = None) -> Sink:
    """The sink an output URI names."""
    text = str(uri).strip()
    if text.startswith("display://"):
        from amma_edge.runtime.sinks.display import DisplaySink

        index = text[len("display://"):] or "0"
        return DisplaySink(int(index) if index.isdigit() else 0)
    path = Path(unquote(urlsplit(text).path)) if text.startswith("file://") else Path(text)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        from amma_edge.runtime.sinks.video import VideoFileSink

        return VideoFileSink(path, fps=fps)
    if suffix == ".jsonl":
        from amma_edge.runtime.sinks.events import JsonlEventSink

        return JsonlEventSink(path)
    if suffix == ".json":
        from amma_edge.runtime.sinks.summary import SummarySink

        return SummarySink(path)
    raise AmmaEdgeError(f"unknown output {uri!r}: use display://0, a video path ending in "
                        f"{' or '.join(VIDEO_SUFFIXES)} (or file://...), events.jsonl or summary.json")
