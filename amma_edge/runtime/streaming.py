"""The per-video streaming detector (AMMA §3.4-3.5): one encoder pass per new clip, the K − 1 older clip
features from a cache, then head, decode and online linking.

Evaluation runs exactly this class over every test video, so the accuracy reported is the accuracy of the
deployed path, feature caching included.

The i-th clip ends at frame i·h, where h is the config's `clip_hop` (t·frame_step unless clips overlap), and
holds its t frames frame_step apart (frames numbered from 1; with frame_step 1 and no overlap, frames
(i−1)·t + 1 … i·t). Frames before the start of the video repeat its first frame, and at the first clip the
cache is filled with the feature of a clip made of that clip's first frame repeated t times, which is what
offline sampling sees for clips before the start of a video (AMMA pads short videos with the first frame),
so step i equals the offline K-clip forward at key frame i·h. Clip ends before frame 1 are padding: their
boxes are dropped. Linking starts at the K-th clip, the first whose tubelets span K real clip ends; its
tubelets reach back to frame h, so tubes still start at the beginning of the video.

Every frame between two clip ends, read or skipped, gets a box (interpolated, see `interpolate_boxes`).
Frames after the last clip end (fewer than h at the end of a video) get no detection; a live stream
simply waits for the next clip.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from amma_edge.errors import AmmaEdgeError, InputShapeError
from amma_edge.models.config import AMMAConfig
from amma_edge.runtime import native
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
        boxes = interpolate_boxes(self.clip_ends, self.tubelets.boxes, self.new_frames)
        return frame_rows(video_index, self.new_frames, self.tubelets, boxes)


def interpolate_boxes(clip_ends: np.ndarray, boxes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Tubelet boxes (N, k, 4) at increasing `clip_ends` (k,) → boxes (N, F, 4) float64 at `frames` (F,).

    A frame between two clip ends gets the linear interpolation of their boxes; a frame before the first or
    after the last clip end holds that end's box (with one clip end, every frame holds it). This is the one
    interpolation both the stream (the frames after the previous clip end) and offline evaluation (every
    frame a tubelet spans) use, so frame-mAP scores what the device reports.
    """
    clip_ends = np.asarray(clip_ends).reshape(-1)
    frames = np.asarray(frames).reshape(-1)
    k = len(clip_ends)
    if boxes.ndim != 3 or boxes.shape[1] != k or k == 0:
        raise InputShapeError(f"boxes (N, k, 4) need one clip end per box of a tubelet: got boxes {boxes.shape} "
                              f"for {k} clip ends")
    boxes = boxes.astype(np.float64)
    if k == 1:
        return boxes[:, np.zeros(len(frames), dtype=np.intp)]
    left = np.clip(np.searchsorted(clip_ends, frames, side="right") - 1, 0, k - 2)
    a, b = clip_ends[left], clip_ends[left + 1]
    # Clipping w only changes frames outside the clip ends (held); inside, the arithmetic is the plain lerp.
    w = np.clip((frames - a) / (b - a), 0.0, 1.0)[None, :, None]
    return boxes[:, left] * (1.0 - w) + boxes[:, left + 1] * w


def frame_rows(video_index: int, frames: np.ndarray, tubelets: Tubelets, boxes: np.ndarray) -> np.ndarray:
    """Frame-mAP rows (N·F, 8) of (video, frame, class, score, x1, y1, x2, y2) from each tubelet's boxes
    (N, F, 4) at `frames` (F,): tubelet-major, frames in the given order, with the tubelet's class and score."""
    n, t = len(tubelets), len(frames)
    if n == 0 or t == 0:
        return np.zeros((0, 8))
    return np.column_stack([
        np.full(n * t, video_index, dtype=np.float64),
        np.tile(frames, n).astype(np.float64),
        np.repeat(tubelets.classes, t).astype(np.float64),
        np.repeat(tubelets.scores, t).astype(np.float64),
        boxes.reshape(n * t, 4),
    ])


class ClipBuffer:
    """A stream's current clip (t, 3, H, W), made from the sampled frames each clip adds to the one before.

    Overlapping clips (hop < t) share t − hop frames with the clip before: those stay preprocessed here instead
    of being read and preprocessed again, so the caller only ever holds the new frames (a camera's buffers go
    back once rendered). At the first clip the frames before the video repeat its first frame, as offline
    sampling pads. Camera pipeline and evaluation both build their clips here, so both feed the stream the
    same clips. The returned array is this buffer's, overwritten by the next `push`.
    """

    def __init__(self, config: AMMAConfig):
        self.config = config
        self.clip = np.empty((config.t, 3, *config.input_size), np.float32)
        self._started = False

    def push(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """The next clip from its `new_frames_per_clip` new frames (H, W, 3) uint8 BGR, oldest first."""
        c = self.config
        fresh = c.new_frames_per_clip
        if len(frames) != fresh:
            raise InputShapeError(f"each clip adds {fresh} sampled frames (hop {c.hop}, t={c.t}); got {len(frames)}")
        keep = c.t - fresh
        self.clip[:keep] = self.clip[fresh:]
        native.preprocess_batch(frames, self.clip[keep:], mean=c.mean, std=c.std)
        if not self._started:
            self.clip[:keep] = self.clip[keep]
            self._started = True
        return self.clip

    def reset(self) -> None:
        """Start a new video: the next clip is a first clip again."""
        self._started = False


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
        return self._last_end // self.config.clip_hop

    def push_clip(self, clip: np.ndarray) -> StreamStep:
        """The next clip, (t, 3, H, W) normalised float32: the t frames, frame_step apart, that end clip_hop
        frames after the last clip end (`amma_edge.data.sampling.stream_clip_frames`; with frame_step 1 and
        clips that do not overlap, the t frames after the last clip)."""
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
        hop = c.clip_hop
        end = self._last_end + hop
        outputs = self.head(self._cache.view())
        tubelets = decode(
            outputs["center"], outputs["trajectory"], outputs["box"],
            input_size=(clip.shape[2], clip.shape[3]), original_size=self.original_size,
            stride=c.stride, top_n=self.top_n,
        )
        ends = end - hop * np.arange(c.K - 1, -1, -1)
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


def clip_ends_for(nframes: int, hop: int) -> list[int]:
    """The clip ends a stream over a video of `nframes` frames produces: h, 2h, … for clip ends h frames
    apart (the config's `clip_hop`: t·frame_step unless clips overlap)."""
    if hop < 1:
        raise AmmaEdgeError(f"clip ends are at least 1 frame apart, got {hop}")
    return list(range(hop, nframes + 1, hop))
