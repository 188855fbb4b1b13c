"""Tube events as a user sees them: `tube_start`, `tube_update`, `tube_end`, only for tubes worth reporting.

The linker tracks every candidate tube (it must, for the accepted tubes to equal offline evaluation's), most of
them weak. `TubeReporter` turns its events into reported ones: a tube is reported from the step its score first
reaches the threshold (its `tube_start` then carries the clip-end boxes it collected so far), updated while it
lives, and ended once, with `accepted` saying whether it passed the linker's length and score limits.

`JsonlEventSink` writes them one JSON object per line, flushed per step, so `tail -f events.jsonl` follows a
live run. It writes the file in place rather than atomically on purpose: a reader sees every complete line
while the run goes on, and a crash leaves whole lines (each line is written with one call).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any

import numpy as np

from amma_edge.runtime.linking import TubeEnded, TubeEvent, TubeStarted, TubeUpdated
from amma_edge.runtime.sinks.base import Sink, StreamInfo


def _boxes(frames: np.ndarray, boxes: np.ndarray) -> list[list[float]]:
    """[[frame, x1, y1, x2, y2], ...] with boxes rounded to 0.1 pixel."""
    return [[int(f), *(round(float(v), 1) for v in b)] for f, b in zip(np.asarray(frames).reshape(-1),
                                                                        np.asarray(boxes).reshape(-1, 4))]


class TubeReporter:
    def __init__(self, class_names: tuple[str, ...], threshold: float):
        self.class_names = class_names
        self.threshold = threshold
        self._reported: set[int] = set()
        self._pending: dict[int, list[list[float]]] = {}  # clip-end boxes of tubes not reported yet
        self._started = time.monotonic()
        self.counts = {"tube_start": 0, "tube_update": 0, "tube_end": 0}

    def _name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    def _event(self, kind: str, tube_id: int, label: int, score: float, **rest: Any) -> dict[str, Any]:
        self.counts[kind] += 1
        return {"event": kind, "time_s": round(time.monotonic() - self._started, 3), "tube_id": tube_id,
                "class": self._name(label), "label": int(label), "score": round(float(score), 4), **rest}

    def report(self, events: list[TubeEvent]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for e in events:
            if isinstance(e, (TubeStarted, TubeUpdated)):
                boxes = _boxes(e.frames, e.boxes)
                if e.tube_id in self._reported:
                    out.append(self._event("tube_update", e.tube_id, e.label, e.score,
                                           frames=[boxes[0][0], boxes[-1][0]], boxes=boxes))
                    continue
                seen = self._pending.setdefault(e.tube_id, [])
                seen.extend(b for b in boxes if not seen or b[0] > seen[-1][0])
                if e.score >= self.threshold:
                    self._reported.add(e.tube_id)
                    seen = self._pending.pop(e.tube_id)
                    out.append(self._event("tube_start", e.tube_id, e.label, e.score,
                                           frames=[seen[0][0], seen[-1][0]], boxes=seen))
            elif isinstance(e, TubeEnded):
                self._pending.pop(e.tube_id, None)
                if e.tube_id in self._reported:
                    self._reported.discard(e.tube_id)
                    tube = e.tube
                    out.append(self._event("tube_end", e.tube_id, e.label, tube.score, accepted=bool(e.accepted),
                                           frames=[int(tube.frames[0]), int(tube.frames[-1])],
                                           num_tubelets=tube.num_tubelets, boxes=_boxes(tube.frames, tube.boxes)))
        return out


class JsonlEventSink(Sink):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file: IO[str] | None = None

    def open(self, info: StreamInfo) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8")

    def events(self, events: list[dict[str, Any]]) -> None:
        if self._file is None or not events:
            return
        self._file.write("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
        self._file.flush()

    def close(self, summary: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def describe(self) -> str:
        return f"events {self.path}"
