"""The device's streaming pipeline: source → frame ring → preprocess → engines → decode → link → sinks.

    source (capture thread) ─► ring slots ─► t frames ─► preprocess [C] ─► encoder ─► feature cache [C]
        ─► head ─► decode [C] ─► tube linker ─► events (JSON lines) + boxes drawn on the frames ─► sinks

AMMA runs through `TubeletStream`, the class offline evaluation streams every test video through, so what runs
here is exactly what `amma_edge.eval.evaluate.evaluate_amma` scored: one encoder pass per new clip of t frames,
the K − 1 older features from the cache, one head pass, decode, online linking. A* runs through
`FrameWindowStream` (one pass per frame over a window of past frames) into the same linker.

Frames stay in their ring slots (views, no copies) until the clip they belong to is preprocessed, detected and
drawn; then their slots go back to the capture thread. Frames after the last whole clip of a finite stream get
no detection (as in evaluation) but are still written to the annotated video.

Every clip's time is split into stages (capture wait, preprocess, encoder, head, decode, link, render, total);
`decode` is what `push_clip` spends outside the two engine calls and the linker: decoding, the cache push and
bookkeeping. The table is printed at exit like jetson-inference's timing report.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig
from amma_edge.runtime import native
from amma_edge.runtime.boxes import nms
from amma_edge.runtime.capture.ring import CaptureStatus, Frame
from amma_edge.runtime.capture.source import VideoSource
from amma_edge.runtime.decode import DEFAULT_TOP_N
from amma_edge.runtime.frame_stream import FrameWindowStream
from amma_edge.runtime.linking import LinkedTube, LinkerConfig, TubeEnded, TubeEvent, TubeLinker
from amma_edge.runtime.runners.model import DeviceModel
from amma_edge.runtime.sinks.base import FrameBoxes, Sink, StreamInfo
from amma_edge.runtime.sinks.events import TubeReporter
from amma_edge.runtime.sinks.timing import StageTimer
from amma_edge.runtime.sinks.video import draw_boxes
from amma_edge.runtime.streaming import ClipBuffer, TubeletStream

AMMA_STAGES = ("capture wait", "preprocess", "encoder", "head", "decode", "link", "render", "total")
ASTAR_STAGES = ("capture wait", "preprocess", "detector", "decode", "link", "render", "total")


@dataclass(frozen=True)
class PipelineConfig:
    threshold: float = 0.3  # tubes and boxes below this score are not reported or drawn (linking sees all)
    top_n: int = DEFAULT_TOP_N  # tubelets decoded per clip
    linker: LinkerConfig = field(default_factory=LinkerConfig)
    max_frames: int | None = None  # stop after this many frames (None: until the source ends)
    capture_timeout_s: float = 1.0  # one wait for a frame; a timeout is not an error, the wait just repeats
    draw_nms: float = 0.5  # overlap above which a weaker box of the same class is not drawn
    keep_detections: bool = False  # keep every per-frame detection row in the result (tests, analysis)

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise AmmaEdgeError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.max_frames is not None and self.max_frames < 1:
            raise AmmaEdgeError(f"max_frames must be at least 1, got {self.max_frames}")
        if self.top_n < 1:
            raise AmmaEdgeError(f"top_n must be at least 1, got {self.top_n}")


@dataclass
class RunResult:
    frames: int  # frames taken from the source
    steps: int  # clips (AMMA) or key frames (A*) detected
    seconds: float
    stopped_by: str  # end_of_stream | max_frames | stopped | interrupted | error: ...
    tubes: list[LinkedTube]  # every tube the linker accepted, whatever its score
    timing: dict[str, dict[str, float]]
    source_stats: dict[str, int]
    summary: dict[str, Any]
    detections: np.ndarray = field(default_factory=lambda: np.zeros((0, 8)), repr=False)
    timing_table: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _TimedLinker(TubeLinker):
    """The stream's linker, timing each step into the pipeline's `link` stage."""

    def __init__(self, config: LinkerConfig, timer: StageTimer):
        super().__init__(config)
        self._timer = timer
        self.last_ms = 0.0

    def step(self, frames: np.ndarray, tubelets: Any) -> list[TubeEvent]:
        start = time.perf_counter()
        try:
            return super().step(frames, tubelets)
        finally:
            self.last_ms = (time.perf_counter() - start) * 1e3


class _Timed:
    """A callable that adds its run time to `total_ms` (reset by the pipeline per clip)."""

    def __init__(self, fn: Callable[[np.ndarray], Any]):
        self.fn = fn
        self.total_ms = 0.0

    def __call__(self, x: np.ndarray) -> Any:
        start = time.perf_counter()
        try:
            return self.fn(x)
        finally:
            self.total_ms += (time.perf_counter() - start) * 1e3


class Pipeline:
    def __init__(self, model: DeviceModel, source: VideoSource, sinks: Sequence[Sink] = (),
                 config: PipelineConfig | None = None, *, stop: threading.Event | None = None):
        self.model = model
        self.source = source
        self.sinks = list(sinks)
        self.config = config or PipelineConfig()
        self.stop = stop or threading.Event()
        c = model.config
        self.timer = StageTimer(AMMA_STAGES if isinstance(c, AMMAConfig) else ASTAR_STAGES)
        self.reporter = TubeReporter(model.class_names, self.config.threshold)
        self._render: np.ndarray | None = None
        self._draw = any(s.wants_frames for s in self.sinks)
        self._frames = 0
        self._steps = 0
        self._tubes: list[LinkedTube] = []
        self._rows: list[np.ndarray] = []

    # --- running ----------------------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Process the source until it ends, max_frames, `stop` is set or Ctrl-C; outputs are always closed."""
        if self.source.ring is None:
            self.source.start()
        h, w = self.source.frame_size
        info = StreamInfo((h, w), float(self.source.fps or 25.0), self.model.class_names, self.source.uri,
                          self.model.describe())
        opened: list[Sink] = []
        started = time.perf_counter()
        stopped_by = "end_of_stream"
        error: BaseException | None = None
        try:
            for sink in self.sinks:
                sink.open(info)
                opened.append(sink)
            if isinstance(self.model.config, AMMAConfig):
                stopped_by = self._run_amma((h, w))
            elif isinstance(self.model.config, AStarConfig):
                stopped_by = self._run_astar((h, w))
            else:
                raise AmmaEdgeError(f"no pipeline for model family {self.model.family!r}")
        except KeyboardInterrupt:
            stopped_by = "interrupted"
        except BaseException as exc:  # close the outputs cleanly, then let the error through
            stopped_by = f"error: {exc}"
            error = exc
        finally:
            try:
                self._deliver(self._finish_events())
            except BaseException as exc:  # finishing must not hide the original error
                error = error or exc
        seconds = time.perf_counter() - started
        result = self._result(seconds, stopped_by)
        close_error: BaseException | None = None
        for sink in opened:
            try:
                sink.close(result.summary)
            except BaseException as exc:  # close every sink, report the first failure
                close_error = close_error or exc
        if error is not None:
            raise error
        if close_error is not None:
            raise close_error
        return result

    def _stop_reason(self) -> str | None:
        if self.stop.is_set():
            return "stopped"
        if any(s.stop_requested() for s in self.sinks):
            return "stopped"
        if self.config.max_frames is not None and self._frames >= self.config.max_frames:
            return "max_frames"
        return None

    def _next_frame(self) -> tuple[Frame | None, str | None, float]:
        """(frame, None, wait ms) or (None, why the stream ended, wait ms)."""
        waited = 0.0
        while True:
            reason = self._stop_reason()
            if reason:
                return None, reason, waited
            start = time.perf_counter()
            result = self.source.capture(self.config.capture_timeout_s)
            waited += (time.perf_counter() - start) * 1e3
            if result.status is CaptureStatus.OK:
                self._frames += 1
                return result.frame, None, waited
            if result.status is CaptureStatus.TIMEOUT:
                continue
            if result.status is CaptureStatus.ERROR:
                raise AmmaEdgeError(f"capture failed: {result.message}")
            return None, "end_of_stream", waited

    def _run_amma(self, frame_size: tuple[int, int]) -> str:
        config: AMMAConfig = self.model.config  # type: ignore[assignment]
        encode, head = _Timed(self.model.encode), _Timed(self.model.head)
        self._stream = stream = TubeletStream(encode, head, config, original_size=frame_size,
                                              linker=self.config.linker, top_n=self.config.top_n)
        linker = stream.linker = _TimedLinker(self.config.linker, self.timer)
        clips = ClipBuffer(config)
        hop, frame_step = config.clip_hop, config.frame_step
        held: list[Frame] = []  # the frames since the last clip end: all are rendered, every frame_step-th is read
        try:
            while True:
                waited = 0.0
                reason = None
                while len(held) < hop:
                    frame, reason, ms = self._next_frame()
                    waited += ms
                    if frame is None:
                        break
                    held.append(frame)
                if reason is not None and len(held) < hop:
                    self._render_frames(held, None, self._frames - len(held) + 1)  # the tail: no detection
                    return reason
                clip_start = time.perf_counter()
                with self.timer.time("preprocess"):
                    clip = clips.push([f.image for f in held[frame_step - 1::frame_step]])
                encode.total_ms = head.total_ms = 0.0
                linker.last_ms = 0.0
                start = time.perf_counter()
                step = stream.push_clip(clip)
                push_ms = (time.perf_counter() - start) * 1e3
                self._steps += 1
                self.timer.add("capture wait", waited)
                self.timer.add("encoder", encode.total_ms)
                self.timer.add("head", head.total_ms)
                self.timer.add("link", linker.last_ms)
                self.timer.add("decode", max(push_ms - encode.total_ms - head.total_ms - linker.last_ms, 0.0))
                rows = step.frame_detections(0)
                if self.config.keep_detections:
                    self._rows.append(rows)
                self._deliver(step.events)
                with self.timer.time("render"):
                    self._render_frames(held, rows, int(step.new_frames[0]))
                held = []
                self.timer.add("total", waited + (time.perf_counter() - clip_start) * 1e3)
                if reason is not None:
                    return reason
        finally:
            for frame in held:
                frame.release()

    def _run_astar(self, frame_size: tuple[int, int]) -> str:
        config: AStarConfig = self.model.config  # type: ignore[assignment]
        detect = _Timed(self.model.detect)
        self._stream = stream = FrameWindowStream(detect, config, original_size=frame_size, linker=self.config.linker,
                                                  top_n=self.config.top_n)
        linker = stream.linker = _TimedLinker(self.config.linker, self.timer)
        # The stream keeps references to the last clip_len preprocessed frames: rotate through one more buffer
        # than that, so none it holds is overwritten.
        pool = np.empty((config.clip_len + 1, 3, *config.input_size), np.float32)
        while True:
            frame, reason, waited = self._next_frame()
            if frame is None:
                return reason or "end_of_stream"
            try:
                step_start = time.perf_counter()
                buffer = pool[self._frames % len(pool)]
                with self.timer.time("preprocess"):
                    native.preprocess(frame.image, buffer, mean=config.mean, std=config.std)
                detect.total_ms, linker.last_ms = 0.0, 0.0
                start = time.perf_counter()
                step = stream.push_frame(buffer)
                push_ms = (time.perf_counter() - start) * 1e3
                self._steps += 1
                self.timer.add("capture wait", waited)
                self.timer.add("detector", detect.total_ms)
                self.timer.add("link", linker.last_ms)
                self.timer.add("decode", max(push_ms - detect.total_ms - linker.last_ms, 0.0))
                rows = step.frame_detections(0)
                if self.config.keep_detections:
                    self._rows.append(rows)
                self._deliver(step.events)
                with self.timer.time("render"):
                    self._render_frames([frame], rows, step.frame)
                self.timer.add("total", waited + (time.perf_counter() - step_start) * 1e3)
            finally:
                frame.release()

    # --- outputs ----------------------------------------------------------------------------------------------

    def _finish_events(self) -> list[TubeEvent]:
        stream = getattr(self, "_stream", None)
        return stream.finish() if stream is not None else []

    def _deliver(self, events: list[TubeEvent]) -> None:
        self._tubes += [e.tube for e in events if isinstance(e, TubeEnded) and e.accepted]
        reported = self.reporter.report(events)
        if reported:
            for sink in self.sinks:
                sink.events(reported)

    def _frame_boxes(self, rows: np.ndarray | None, frame: int) -> FrameBoxes:
        if rows is None or len(rows) == 0:
            return FrameBoxes()
        mine = rows[(rows[:, 1] == frame) & (rows[:, 3] >= self.config.threshold)]
        if len(mine) == 0:
            return FrameBoxes()
        keep = nms(mine[:, 4:8], mine[:, 3], self.config.draw_nms, groups=mine[:, 2].astype(np.int64))
        mine = mine[keep]
        return FrameBoxes(mine[:, 4:8].astype(np.float32), mine[:, 3].astype(np.float32), mine[:, 2].astype(np.int64))

    def _render_frames(self, frames: list[Frame], rows: np.ndarray | None, first_index: int) -> None:
        try:
            if not self._draw:
                return
            for offset, frame in enumerate(frames):
                index = first_index + offset
                boxes = self._frame_boxes(rows, index)
                if self._render is None or self._render.shape != frame.image.shape:
                    self._render = np.empty_like(frame.image)
                np.copyto(self._render, frame.image)
                draw_boxes(self._render, boxes, self.model.class_names)
                for sink in self.sinks:
                    if sink.wants_frames:
                        sink.frame(index, self._render, boxes)
        finally:
            for frame in frames:
                frame.release()

    def _result(self, seconds: float, stopped_by: str) -> RunResult:
        timing = self.timer.stats()
        names = self.model.class_names
        shown = sorted((t for t in self._tubes if t.score >= self.config.threshold), key=lambda t: -t.score)
        stats = self.source.stats.as_dict()
        engine_keys = ("encoder", "head") if "encoder" in timing or "head" in timing else ("detector",)
        total = timing.get("total", {}).get("mean_ms", 0.0)
        engines = sum(timing.get(k, {}).get("mean_ms", 0.0) for k in engine_keys)
        summary = {
            "source": self.source.uri,
            "source_description": self.source.describe(),
            "model": self.model.source,
            "model_name": self.model.config.name,
            "backend": self.model.backend,
            "precision": self.model.precision,
            "family": self.model.family,
            "classes": list(names),
            "threshold": self.config.threshold,
            "stopped_by": stopped_by,
            "frames": self._frames,
            "steps": self._steps,
            "seconds": round(seconds, 3),
            "fps": round(self._frames / seconds, 2) if seconds > 0 else 0.0,
            "capture": stats,
            "timing_ms": timing,
            "share_outside_engines": round(1 - engines / total, 4) if total > 0 else None,
            "events": dict(self.reporter.counts),
            "tubes_accepted": len(self._tubes),
            "tubes": [{"tube_id": t.tube_id, "class": names[t.label] if t.label < len(names) else str(t.label),
                       "label": t.label, "score": round(t.score, 4), "first_frame": int(t.frames[0]),
                       "last_frame": int(t.frames[-1]), "frames": t.length, "num_tubelets": t.num_tubelets}
                      for t in shown],
        }
        rows = np.concatenate(self._rows) if self._rows else np.zeros((0, 8))
        unit = "clip" if isinstance(self.model.config, AMMAConfig) else "frame"
        return RunResult(self._frames, self._steps, seconds, stopped_by, list(self._tubes), timing, stats, summary,
                         rows, self.timer.table(unit))
