"""Online linking of tubelets into action tubes (AMMA §3.5, after ACT's and MOC's `BuildTubes`).

Each step brings the tubelets decoded at a new key frame together with the frame numbers of its K clip ends.
Per class, and per step:

1. the class's tubelets go through tubelet NMS (mean IoU over the K frames greater than `nms_threshold`
   suppresses) and the best `top_k` survive;
2. active tubes are visited best first (tube score = mean of its tubelets' scores, ties to the older tube).
   A tube whose last tubelet shares no frame with the step is finished — it can never overlap a later one.
   Otherwise it takes, among the tubelets not yet taken whose mean IoU with its last tubelet over their
   shared frames is at least `iou_threshold`, the one with the highest score (ties to the better NMS rank);
   a tube that finds none stays active and tries again next step;
3. every tubelet left over starts a tube.

At the end of the stream `finish()` ends what is still active. With `trim` > 0 a finished tube first keeps
only its contiguous run of tubelets whose scores stand out (`trim_span`); the papers keep whole tubes (0).
A finished tube is accepted when its score
is at least `min_score`, it spans at least `min_length` frames and holds at least `min_tubelets` tubelets.
Its per-frame boxes come from the clip-end boxes: averaged over the tubelets that have a box at that frame,
then linearly interpolated, coordinate by coordinate, for the frames between. The tube spans from the first
clip end of its first tubelet to the last clip end of its last.

`step()` and `finish()` return events (tube started, updated, ended) for a live stream; evaluation runs the
very same class over a whole video (`link_video`).

Where the published code differs, the defaults and their sources:

| setting         | ACT (2017) | MOC (2020) / AMMA (2022)         | here                       |
| --------------- | ---------- | -------------------------------- | -------------------------- |
| link IoU        | 0.2        | 0.5                              | 0.5 (AMMA §3.5, MOC)       |
| tubelet NMS     | hard, 0.3  | soft (linear rescoring), 0.6     | hard, 0.3 (ACT)            |
| top tubelets    | 10         | 10                               | 10                         |
| min tube score  | 0.01       | 0.005                            | 0.01 (ACT)                 |
| min tube length | 15 frames  | 15 / AMMA: min(nframes, t·K)     | 15 frames                  |
| min tubelets    | 1          | 1 / AMMA: 2                      | 1                          |
| temporal trim   | none       | none                             | none (`trim` 0)            |

ACT and MOC also extend a tube that no longer overlaps the step by comparing its last box with the new
tubelet's first; AMMA's text ends such a tube ("no longer exists temporal overlaps"), and so do we. All
IoUs here are on continuous boxes (offset 0); ACT's `iou2d` adds one pixel to widths and heights.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from amma_edge.errors import AmmaEdgeError, InputShapeError
from amma_edge.runtime.boxes import aligned_tubelet_iou, nms
from amma_edge.runtime.decode import Tubelets


@dataclass(frozen=True)
class LinkerConfig:
    iou_threshold: float = 0.5
    top_k: int = 10
    nms_threshold: float = 0.3
    min_length: int = 15
    min_score: float = 0.01
    min_tubelets: int = 1
    trim: float = 0.0

    def __post_init__(self) -> None:
        for name in ("iou_threshold", "nms_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise AmmaEdgeError(f"linker {name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.trim < 1.0:
            raise AmmaEdgeError(f"linker trim must be in [0, 1) (a fraction of the tube's best tubelet score; "
                                f"0 keeps whole tubes), got {self.trim}")
        for name in ("top_k", "min_length", "min_tubelets"):
            if getattr(self, name) < 1:
                raise AmmaEdgeError(f"linker {name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True, eq=False)
class LinkedTube:
    """A finished tube: one box per frame, frames (T,) int64 consecutive, boxes (T, 4) float32.

    It is made of the linked tubelets `first_tubelet` … `first_tubelet + num_tubelets - 1` (0 unless trimmed)."""

    tube_id: int
    label: int
    score: float
    frames: np.ndarray
    boxes: np.ndarray
    num_tubelets: int
    first_tubelet: int = 0

    @property
    def length(self) -> int:
        return int(self.frames[-1] - self.frames[0] + 1)

    def as_array(self) -> np.ndarray:
        """(T, 5) rows of (frame, x1, y1, x2, y2): the ground-truth tube layout."""
        return np.concatenate([self.frames[:, None].astype(np.float32), self.boxes], axis=1)

    def as_dict(self) -> dict[str, Any]:
        return {"tube_id": self.tube_id, "label": self.label, "score": float(self.score),
                "num_tubelets": self.num_tubelets, "first_tubelet": self.first_tubelet,
                "frames": self.frames.tolist(), "boxes": self.boxes.tolist()}


@dataclass(frozen=True, eq=False)
class TubeStarted:
    """A new tube, made of one tubelet: its clip-end frames (K,) and boxes (K, 4)."""

    kind: ClassVar[str] = "started"
    tube_id: int
    label: int
    score: float
    frames: np.ndarray
    boxes: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "tube_id": self.tube_id, "label": self.label, "score": float(self.score),
                "frames": self.frames.tolist(), "boxes": self.boxes.tolist()}


@dataclass(frozen=True, eq=False)
class TubeUpdated:
    """A tube took a new tubelet (`frames`, `boxes`, `tubelet_score`); `score` is the tube's new mean."""

    kind: ClassVar[str] = "updated"
    tube_id: int
    label: int
    score: float
    tubelet_score: float
    frames: np.ndarray
    boxes: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "tube_id": self.tube_id, "label": self.label, "score": float(self.score),
                "tubelet_score": float(self.tubelet_score), "frames": self.frames.tolist(),
                "boxes": self.boxes.tolist()}


@dataclass(frozen=True, eq=False)
class TubeEnded:
    """A tube is finished; `accepted` says whether it passed the score, length and tubelet-count limits."""

    kind: ClassVar[str] = "ended"
    tube_id: int
    label: int
    accepted: bool
    tube: LinkedTube

    @property
    def score(self) -> float:
        return self.tube.score

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "tube_id": self.tube_id, "label": self.label, "accepted": self.accepted,
                "score": float(self.tube.score), "tube": self.tube.as_dict()}


TubeEvent = TubeStarted | TubeUpdated | TubeEnded


def interpolate_tube(frames: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame boxes from boxes at some frames: (M,) frames and (M, 4) boxes → (T,) frames, (T, 4) boxes.

    Boxes given at the same frame are averaged; frames between two given ones get the coordinate-wise
    linear interpolation; the output covers every frame from the first given to the last.
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(frames) != len(boxes) or len(frames) == 0:
        raise InputShapeError(f"interpolate_tube needs one box per frame and at least one; got {len(frames)} "
                              f"frames and {len(boxes)} boxes")
    given, inverse = np.unique(frames, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(given)).astype(np.float64)
    mean = np.stack([np.bincount(inverse, weights=boxes[:, c], minlength=len(given)) for c in range(4)], axis=1)
    mean /= counts[:, None]
    out_frames = np.arange(given[0], given[-1] + 1, dtype=np.int64)
    if len(given) == 1:
        return out_frames, mean.astype(np.float32)
    left = np.clip(np.searchsorted(given, out_frames, side="right") - 1, 0, len(given) - 2)
    weight = ((out_frames - given[left]) / (given[left + 1] - given[left]))[:, None]
    out = mean[left] * (1.0 - weight) + mean[left + 1] * weight
    return out_frames, out.astype(np.float32)


def trim_span(scores: np.ndarray, ratio: float) -> tuple[int, int]:
    """The run [start, stop) of a tube's tubelets to keep: the one of largest Σ (score − ratio · best score).

    A detector keeps following a person before and after the action, with lower scores; the papers keep
    those tubelets, which costs temporal IoU on untrimmed videos (UCF101-24 and our synthetic sets). The run
    always holds the best tubelet; ratio 0 keeps the whole tube. Ties go to the earliest run."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) == 0:
        raise InputShapeError("trim_span needs at least one tubelet score")
    if ratio <= 0.0:
        return 0, len(scores)
    gain = scores - ratio * scores.max()
    best, best_span = -np.inf, (0, 1)
    running, start = 0.0, 0
    for i, g in enumerate(gain):  # Kadane: the best run ending at i either extends the one ending at i − 1 or not
        if running < 0.0:
            running, start = 0.0, i
        running += g
        if running > best:
            best, best_span = running, (start, i + 1)
    return best_span


@dataclass(eq=False)
class _Tube:
    tube_id: int
    label: int
    frames: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    score_sum: float = 0.0

    @property
    def score(self) -> float:
        return self.score_sum / len(self.frames)

    def add(self, frames: np.ndarray, boxes: np.ndarray, score: float) -> None:
        self.frames.append(frames)
        self.boxes.append(boxes)
        self.scores.append(float(score))
        self.score_sum += float(score)


class TubeLinker:
    """Links the tubelets of one stream, step by step; `finish()` ends the stream and readies the next."""

    def __init__(self, config: LinkerConfig | None = None):
        self.config = config or LinkerConfig()
        self._active: dict[int, list[_Tube]] = {}
        self._last_frame: int | None = None
        self._K: int | None = None
        self._next_id = 0

    @property
    def num_active(self) -> int:
        return sum(len(tubes) for tubes in self._active.values())

    def step(self, frames: np.ndarray, tubelets: Tubelets) -> list[TubeEvent]:
        """Link the tubelets decoded at a new key frame; `frames` (K,) are their clip ends, increasing."""
        frames = self._check_step(frames, tubelets)
        cfg = self.config
        # one NMS call for every class: kept indices come grouped by class, best first within each
        kept = nms(tubelets.boxes, tubelets.scores, cfg.nms_threshold, groups=tubelets.classes, top_k=cfg.top_k)
        kept_classes = tubelets.classes[kept]
        events: list[TubeEvent] = []
        for label in sorted(set(np.unique(kept_classes).tolist()) | set(self._active)):
            chosen = kept[np.searchsorted(kept_classes, label):np.searchsorted(kept_classes, label, side="right")]
            boxes, scores = tubelets.boxes[chosen], tubelets.scores[chosen]
            tubes = sorted(self._active.get(label, []), key=lambda t: (-t.score, t.tube_id))
            if tubes:
                iou, shared = aligned_tubelet_iou(np.stack([t.boxes[-1] for t in tubes]),
                                                  np.stack([t.frames[-1] for t in tubes]), boxes, frames)
                fits = iou >= cfg.iou_threshold
            free = np.ones(len(chosen), dtype=bool)
            still_active: list[_Tube] = []
            for i, tube in enumerate(tubes):
                if shared[i] == 0:
                    events.append(self._end(tube))
                    continue
                still_active.append(tube)
                candidates = np.flatnonzero(free & fits[i])
                if len(candidates) == 0:
                    continue
                j = candidates[np.argmax(scores[candidates])]
                free[j] = False
                tube.add(frames, boxes[j], scores[j])
                events.append(TubeUpdated(tube.tube_id, label, tube.score, float(scores[j]), frames, boxes[j]))
            for j in np.flatnonzero(free):
                tube = _Tube(self._next_id, label)
                self._next_id += 1
                tube.add(frames, boxes[j], scores[j])
                still_active.append(tube)
                events.append(TubeStarted(tube.tube_id, label, float(scores[j]), frames, boxes[j]))
            if still_active:
                self._active[label] = still_active
            else:
                self._active.pop(label, None)
        self._last_frame = int(frames[-1])
        return events

    def finish(self) -> list[TubeEvent]:
        """End every active tube (the stream is over) and reset, keeping tube ids unique across streams."""
        events: list[TubeEvent] = [self._end(tube) for label in sorted(self._active)
                                   for tube in sorted(self._active[label], key=lambda t: t.tube_id)]
        self._active.clear()
        self._last_frame = None
        self._K = None
        return events

    def _check_step(self, frames: np.ndarray, tubelets: Tubelets) -> np.ndarray:
        frames = np.asarray(frames).reshape(-1)
        if not np.all(np.equal(np.mod(frames, 1), 0)):
            raise AmmaEdgeError(f"tubelet frames must be whole frame numbers, got {frames.tolist()}")
        frames = frames.astype(np.int64)
        if len(frames) != tubelets.K:
            raise InputShapeError(f"a step needs one frame number per clip end: {tubelets.K} expected, "
                                  f"got {len(frames)}")
        if self._K is not None and tubelets.K != self._K:
            raise InputShapeError(f"K changed from {self._K} to {tubelets.K} within a stream: call finish() first")
        if np.any(np.diff(frames) <= 0):
            raise AmmaEdgeError(f"the clip-end frames of a step must increase, got {frames.tolist()}")
        if self._last_frame is not None and frames[-1] <= self._last_frame:
            raise AmmaEdgeError(f"steps must move forward in time: key frame {int(frames[-1])} is not after "
                                f"{self._last_frame}; call finish() before a new stream")
        self._K = tubelets.K
        return frames

    def _end(self, tube: _Tube) -> TubeEnded:
        cfg = self.config
        start, stop = trim_span(np.array(tube.scores), cfg.trim)
        score = sum(tube.scores[start:stop]) / (stop - start)  # summed in order: tube.score's value when untrimmed
        frames, boxes = interpolate_tube(np.concatenate(tube.frames[start:stop]), np.concatenate(tube.boxes[start:stop]))
        linked = LinkedTube(tube.tube_id, tube.label, score, frames, boxes, stop - start, first_tubelet=start)
        return TubeEnded(tube.tube_id, tube.label, self.accepts(linked), linked)

    def accepts(self, tube: LinkedTube) -> bool:
        """Whether a finished tube passes the score, length and tubelet-count limits."""
        cfg = self.config
        return tube.score >= cfg.min_score and tube.length >= cfg.min_length and tube.num_tubelets >= cfg.min_tubelets


def link_video(steps: Iterable[tuple[np.ndarray, Tubelets]], config: LinkerConfig | None = None) -> list[LinkedTube]:
    """The accepted tubes of a whole video, from its (clip-end frames, tubelets) steps in time order."""
    linker = TubeLinker(config)
    events: list[TubeEvent] = []
    for frames, tubelets in steps:
        events += linker.step(frames, tubelets)
    events += linker.finish()
    return [e.tube for e in events if isinstance(e, TubeEnded) and e.accepted]
