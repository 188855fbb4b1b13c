"""Which frames make up a sample, which key frames are samples, and the ground-truth boxes a sample carries.

Both detectors look only backwards from the key frame (the real-time setting): AMMA sees K clips of t frames
(consecutive, or overlapping when the config's hop is below t) whose last frame is the key frame, A* a window
of past frames ending at it. Frames before the start of the video are replaced by frame 1, as the AMMA paper
pads short videos with their first frame ("an action without movement at the beginning").

Key-frame rule for training. Every frame at which at least one tube is active is a training key frame,
including the first frames of a tube, whose earlier clip ends fall before the tube starts. For those
clip ends the tube's first box is held, the same "no movement before the start" assumption the paper
makes for padded videos. MOC trains only on tubelets present over their whole span; we do not by
default, because an online detector is scored at every frame of a tube, onsets included, and the
stricter rule would never show it the first (K-1)·t frames of any action — on UCF101-24, where many tubes
start mid-video, that is a large share of the annotated frames. `min_history` restores the strict rule
(set it to (K-1)·t) for anyone who wants MOC's behaviour.

A tube is active at frame f when its first annotated frame <= f <= its last; inside a gap between two
annotated frames its box is interpolated linearly.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.errors import AmmaEdgeError

Tubes = Mapping[int, Sequence[np.ndarray]]  # label -> tubes, each N×5 (frame, x1, y1, x2, y2)


def amma_clip_frames(key_frame: int, K: int, t: int, step: int = 1, hop: int | None = None) -> np.ndarray:
    """Frame numbers (K, t) of the K clips of t frames, `step` apart, ending at `key_frame`.

    Row k ends at key − (K−1−k)·hop·step, with `hop` (default t: clips that do not overlap) sampled frames
    between clip ends. Frames before the start of the video repeat the first frame on the key frame's grid
    (frame 1 when step is 1): that is the frame a stream, which only ever reads that grid, has to pad with,
    so offline samples and the stream see the same clips.
    """
    _check_key(key_frame)
    hop = _check_steps(t, step, hop)
    ends = key_frame - step * hop * np.arange(K - 1, -1, -1, dtype=np.int64)
    frames = ends[:, None] - step * np.arange(t - 1, -1, -1, dtype=np.int64)[None, :]
    first = (key_frame - 1) % step + 1
    return np.maximum(frames, first)


def stream_clip_frames(index: int, t: int, step: int = 1, hop: int | None = None) -> np.ndarray:
    """Frame numbers (t,) of a stream's `index`-th clip (from 1): it ends at index·hop·step, frames `step`
    apart (hop defaults to t). Frames before the start repeat the stream's first frame, frame `step`."""
    if index < 1:
        raise AmmaEdgeError(f"stream clips count from 1, got clip {index}")
    hop = _check_steps(t, step, hop)
    frames = index * hop * step - step * np.arange(t - 1, -1, -1, dtype=np.int64)
    return np.maximum(frames, step)


def _check_steps(t: int, step: int, hop: int | None) -> int:
    """The hop to use (t when None or 0), after checking it and the frame step."""
    if step < 1:
        raise AmmaEdgeError(f"the frame step must be at least 1, got {step}")
    hop = hop or t
    if not 1 <= hop <= t:
        raise AmmaEdgeError(f"clip ends are 1 to t={t} sampled frames apart (the hop), got {hop}")
    return int(hop)


def window_frames(key_frame: int, length: int, stride: int = 1) -> np.ndarray:
    """Frame numbers (length,) of a window of past frames ending at `key_frame` (A*'s input)."""
    _check_key(key_frame)
    frames = key_frame - stride * np.arange(length - 1, -1, -1, dtype=np.int64)
    return np.maximum(frames, 1)


def tube_boxes_at(tube: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Boxes (len(frames), 4) of one tube, interpolated in gaps and held constant beyond its ends."""
    tube = _sorted_tube(tube)
    frames = np.asarray(frames, dtype=np.float64)
    return np.stack([np.interp(frames, tube[:, 0], tube[:, c]) for c in range(1, 5)], axis=1).astype(np.float32)


def boxes_at(tubes: Tubes, key_frame: int, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (N,) int64 and boxes (N, len(frames), 4) of the N tubes active at `key_frame`, taken at `frames`."""
    frames = np.asarray(frames).reshape(-1)
    labels, boxes = [], []
    for label in sorted(tubes):
        for tube in tubes[label]:
            if len(tube) and tube[:, 0].min() <= key_frame <= tube[:, 0].max():
                labels.append(label)
                boxes.append(tube_boxes_at(tube, frames))
    if not boxes:
        return np.zeros(0, np.int64), np.zeros((0, len(frames), 4), np.float32)
    return np.asarray(labels, np.int64), np.stack(boxes)


def amma_tubelets(tubes: Tubes, key_frame: int, K: int, t: int, step: int = 1,
                  hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels (N,) and boxes (N, K, 4) at the last frame of each of the K clips ending at `key_frame`."""
    return boxes_at(tubes, key_frame, amma_clip_frames(key_frame, K, t, step, hop)[:, -1])


def keyframe_boxes(tubes: Tubes, key_frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels (N,) and boxes (N, 4) of the tubes active at `key_frame` (A*'s targets)."""
    labels, boxes = boxes_at(tubes, key_frame, np.array([key_frame]))
    return labels, boxes[:, 0]


def training_key_frames(gt: GroundTruth, video: str, min_history: int = 0) -> np.ndarray:
    """Sorted key frames of `video` with at least one active tube.

    With `min_history` > 0 a key frame is dropped when any tube active at it started later than
    `min_history` frames before it (frames before the video's start count as its first frame).
    """
    nframes = gt.nframes[video]
    spans = np.array(
        [(tube[:, 0].min(), tube[:, 0].max()) for tubes in gt.gttubes.get(video, {}).values() for tube in tubes
         if len(tube)],
        dtype=np.int64,
    ).reshape(-1, 2)
    frames = np.arange(1, nframes + 1)
    active = (spans[:, :1] <= frames) & (frames <= spans[:, 1:])
    keep = active.any(axis=0)
    if min_history > 0:
        needed_from = np.maximum(frames - min_history, 1)
        keep &= ~(active & (spans[:, :1] > needed_from)).any(axis=0)
    return frames[keep]


def training_samples(
    gt: GroundTruth, split: str = "train", split_index: int = 0, min_history: int = 0
) -> list[tuple[str, int]]:
    """(video, key frame) pairs of every training key frame of a split's videos."""
    samples = [
        (video, int(f))
        for video in gt.split_videos(split, split_index)
        for f in training_key_frames(gt, _known_video(gt, video), min_history)
    ]
    if not samples:
        raise AmmaEdgeError(
            f"the {split} part of split {split_index} has no annotated frame to train on: check that its videos "
            "have tubes in the ground truth" + (f", or lower min_history ({min_history})" if min_history else "")
        )
    return samples


def evaluation_samples(gt: GroundTruth, split: str = "test", split_index: int = 0) -> list[tuple[str, int]]:
    """(video, frame) for every frame of a split's videos; the runtime picks its own stride."""
    return [
        (video, f)
        for video in gt.split_videos(split, split_index)
        for f in range(1, gt.nframes[_known_video(gt, video)] + 1)
    ]


def _known_video(gt: GroundTruth, video: str) -> str:
    if video not in gt.nframes:
        raise AmmaEdgeError(f"video {video!r} is listed in a split but has no frame count: the ground truth is "
                            "inconsistent; regenerate or re-convert the dataset")
    return video


def _check_key(key_frame: int) -> None:
    if key_frame < 1:
        raise ValueError(f"frames are numbered from 1, got key frame {key_frame}")


def _sorted_tube(tube: np.ndarray) -> np.ndarray:
    tube = np.asarray(tube, dtype=np.float64).reshape(-1, 5)
    if len(tube) > 1 and np.any(np.diff(tube[:, 0]) <= 0):
        tube = tube[np.argsort(tube[:, 0], kind="stable")]
    return tube
