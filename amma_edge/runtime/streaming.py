"""The per-video streaming detector (AMMA §3.4-3.5): one encoder pass per new clip, the K − 1 older clip
features from a cache, then head, decode and online linking.

Evaluation runs exactly this class over every test video, so the accuracy reported is the accuracy of the
deployed path, feature caching included.

Clips are consecutive and non-overlapping: the i-th clip ends at frame i·t (frames numbered from 1). At the
first clip the cache is filled with the feature of a clip made of frame 1 repeated t times, which is what
offline sampling sees for clips before the start of a video (AMMA pads short videos with the first frame),
so step i equals the offline K-clip forward at key frame i·t. Clip ends before frame 1 are padding: their
boxes are dropped. Linking starts at the K-th clip, the first whose tubelets span K real clip ends; its
tubelets reach back to frame t, so tubes still start at the beginning of the video.

Frames after the last whole clip (fewer than t at the end of a video) get no detection; a live stream
simply waits for the next clip.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from amma_edge.errors import AmmaEdgeError, InputShapeError
from amma_edge.models.config import AMMAConfig
from amma_edge.runtime.decode import DEFAULT_TOP_N, Tubelets, decode
from amma_edge.runtime.linking import LinkerConfig, TubeEvent, TubeLinker
from amma_edge.runtime.native import FeatureCache

# encode: one normalised clip (t, 3, H, W) float32 → its feature (c, h, w) float32.
Encode = Callable[[np.ndarray], np.ndarray]
# head: K features (K, c, h, w), oldest first → {"center": (C, h, w), "trajectory": (2K, h, w), "box": (2K, h, w)}.
Head = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class StreamStep:
    """What one new clip produced."""

    clip_ends: np.ndarray  # (k,) the clip-end frames at or after frame 1, increasing; k <= K
    tubelets: Tubelets  # boxes (N, k, 4) at those frames, original-frame pixels
    new_frames: np.ndarray  # the frames this step is the first to cover: (previous clip end, this clip end]
    events: list[TubeEvent] = field(default_factory=list)

    def frame_detections(self, video_index: int) -> np.ndarray:
        """Rows (M, 8) of (video, frame, class, score, x1, y1, x2, y2) for `new_frames` only.

        Boxes are interpolated between the last two clip ends; at the first clip of a video, whose start
        has no earlier clip end, the key-frame box is held. Every frame of a video is thus scored once.
        """
        n, frames = len(self.tubelets), self.new_frames
        if n == 0 or len(frames) == 0:
            return np.zeros((0, 8))
        boxes = self.tubelets.boxes.astype(np.float64)
        if len(self.clip_ends) >= 2:
            a, b = self.clip_ends[-2], self.clip_ends[-1]
            w = ((frames - a) / (b - a))[None, :, None]
            per_frame = boxes[:, -2:-1] * (1.0 - w) + boxes[:, -1:] * w
        else:
            per_frame = np.repeat(boxes[:, -1:], len(frames), axis=1)
        t = len(frames)
        return np.column_stack([
            np.full(n * t, video_index, dtype=np.float64),
            np.tile(frames, n).astype(np.float64),
            np.repeat(self.tubelets.classes, t).astype(np.float64),
            np.repeat(self.tubelets.scores, t).astype(np.float64),
            per_frame.reshape(-1, 4),
        ])


class TubeletStream:
    """Feed it consecutive clips of one video (or camera); it returns tubelets and tube events per clip."""

    def __init__(
        self,
        encode: Encode,
        head: Head,
        config: AMMAConfig,
        *,
        original_size: tuple[int, int],
        linker: LinkerConfig | None = None,
        top_n: int = DEFAULT_TOP_N,
        cache: FeatureCache | None = None,
    ):
        self.encode = encode
        self.head = head
        self.config = config
        self.original_size = original_size
        self.top_n = top_n
        self.linker = TubeLinker(linker or LinkerConfig())
        self._cache = cache  # made at the first clip, when the feature shape is known
        self._last_end = 0

    @property
    def clips_seen(self) -> int:
        return self._last_end // self.config.t

    def push_clip(self, clip: np.ndarray) -> StreamStep:
        """The next clip, (t, 3, H, W) normalised float32: frames last_end + 1 … last_end + t."""
        c = self.config
        if clip.ndim != 4 or clip.shape[0] != c.t or clip.shape[1] != 3:
            raise InputShapeError(f"a stream clip is (t={c.t}, 3, H, W) normalised float32; got {clip.shape}")
        feature = np.ascontiguousarray(self.encode(clip), dtype=np.float32)
        if self._cache is None:
            self._cache = FeatureCache(c.K, feature.shape)
        if self._last_end == 0:
            padding = np.ascontiguousarray(self.encode(np.repeat(clip[:1], c.t, axis=0)), dtype=np.float32)
            self._cache.fill_with(padding)
        self._cache.push(feature)
        end = self._last_end + c.t
        outputs = self.head(self._cache.view())
        tubelets = decode(
            outputs["center"], outputs["trajectory"], outputs["box"],
            input_size=(clip.shape[2], clip.shape[3]), original_size=self.original_size,
            stride=c.stride, top_n=self.top_n,
        )
        ends = end - c.t * np.arange(c.K - 1, -1, -1)
        valid = ends >= 1
        if valid.all():
            events = self.linker.step(ends, tubelets)
        else:
            events = []
            tubelets = Tubelets(tubelets.boxes[:, valid], tubelets.scores, tubelets.classes)
            ends = ends[valid]
        step = StreamStep(ends, tubelets, np.arange(self._last_end + 1, end + 1), events)
        self._last_end = end
        return step

    def finish(self) -> list[TubeEvent]:
        """End the stream: close every active tube. The stream can then start a new video."""
        events = self.linker.finish()
        self._last_end = 0
        if self._cache is not None:
            self._cache.reset()
        return events


def clip_ends_for(nframes: int, t: int) -> list[int]:
    """The clip ends a stream over a video of `nframes` frames produces: t, 2t, …"""
    if t < 1:
        raise AmmaEdgeError(f"t must be at least 1, got {t}")
    return list(range(t, nframes + 1, t))
