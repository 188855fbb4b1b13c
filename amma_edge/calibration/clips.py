"""Calibration inputs drawn from a dataset exactly as the device would see them.

Frames are decoded by the dataset's `FrameReader` and preprocessed by the runtime's own kernels
(`amma_edge.runtime.native.preprocess_batch` / `preprocess`, as `amma_edge.eval.evaluate` calls them), so the
value ranges calibrated are the ranges met at run time.

AMMA. Streaming cuts a video into consecutive clips of t frames, clip i ending at frame i·t; the encoder
sees each clip once and the head sees the K newest features, the feature cache's content. The cache starts
filled with the feature of frame 1 repeated t times (`TubeletStream`), so at clip i the head reads the
features of clips i−K+1 … i with those before clip 1 replaced by that padding feature. The encoder samples
are the chosen clips; the head samples are those windows of features, computed by the fp32 encoder in ONNX
Runtime, for the same clips.

A*. Every frame is a key frame; the detector sees the window of the last clip_len frames with frame 1
repeated before the start (`FrameWindowStream`, `amma_edge.data.sampling.window_frames`).

Which clips: `spread_picks` shares the requested count over the split's videos as evenly as their lengths
allow and spaces each video's picks evenly along it, so no video and no part of a video dominates.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig

Log = Callable[[str], None]
# One normalised clip (t, 3, H, W) → its feature (c, h, w); the fp32 encoder.
Encode = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Picks:
    """The chosen positions of one video: AMMA clip numbers (clip i ends at frame i·t), A* key frames."""

    video: str
    positions: tuple[int, ...]


def spread_picks(lengths: Mapping[str, int], count: int) -> list[Picks]:
    """`count` positions (1-based) over videos of `lengths` positions each, in sorted video order.

    Every video gets min(length, c) picks for the smallest cap c that reaches `count`; the surplus is taken
    back from videos at the cap, spread evenly over them. Within a video the picks sit at the centres of
    equal parts of it. Fewer than `count` come back only when the videos hold fewer positions in all.
    """
    if count < 1:
        raise AmmaEdgeError(f"the number of calibration samples must be at least 1, got {count}")
    videos = sorted(v for v, n in lengths.items() if n > 0)
    if not videos:
        return []
    sizes = np.array([lengths[v] for v in videos])
    if sizes.sum() <= count:
        budgets = sizes.copy()
    else:
        cap = 1
        while np.minimum(sizes, cap).sum() < count:
            cap += 1
        budgets = np.minimum(sizes, cap)
        surplus = int(budgets.sum() - count)
        at_cap = np.flatnonzero(budgets == cap)
        if surplus:
            drop = at_cap[np.round(np.linspace(0, len(at_cap) - 1, surplus)).astype(int)]
            budgets[np.unique(drop)] -= 1
            left = surplus - len(np.unique(drop))
            for index in at_cap[::-1]:  # rounding collisions: take the rest from the last videos at the cap
                if left == 0:
                    break
                if budgets[index] == cap:
                    budgets[index] -= 1
                    left -= 1
    picks = []
    for video, n, m in zip(videos, sizes, budgets):
        if m > 0:
            positions = tuple(int(math.floor((j + 0.5) * n / m)) + 1 for j in range(int(m)))
            picks.append(Picks(video, positions))
    return picks


def clip_counts(gt: Any, videos: Sequence[str], hop: int) -> dict[str, int]:
    """Clips per video when one ends every `hop` frames (the config's clip_hop): the clips streaming encodes
    (frames after the last clip end are unused)."""
    return {v: gt.nframes.get(v, 0) // hop for v in videos}


def split_videos(gt: Any, split: str, dataset: str) -> list[str]:
    try:
        videos = [v for v in gt.split_videos(split) if gt.nframes.get(v, 0) > 0]
    except (KeyError, IndexError, ValueError) as exc:
        raise AmmaEdgeError(f"dataset {dataset} has no {split} split ({exc}): pass --split train or test") from exc
    if not videos:
        raise AmmaEdgeError(f"dataset {dataset} has no {split} videos with frames: pass a dataset with a {split} "
                            "split, or --split with the other one")
    return sorted(videos)


def iter_amma_samples(config: AMMAConfig, read_frame: Callable[[str, int], np.ndarray], picks: Sequence[Picks],
                      encode: Encode, log: Log | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(clip (t, 3, H, W), feature window (K, c, h, w)) at every pick, in pick order.

    Each video's picks need the features of the K − 1 clips before them; every needed clip is encoded once.
    """
    from amma_edge.data.sampling import stream_clip_frames
    from amma_edge.runtime import native

    K, t = config.K, config.t
    for number, pick in enumerate(picks):
        if log:
            log(f"  [{number + 1}/{len(picks)}] {pick.video}: {len(pick.positions)} clip(s)")

        def clip(i: int) -> np.ndarray:
            frames = [read_frame(pick.video, int(f)) for f in stream_clip_frames(i, t, config.frame_step, config.hop)]
            return native.preprocess_batch(frames, mean=config.mean, std=config.std, size=config.input_size)

        features: dict[int, np.ndarray] = {}
        first = padding = None
        for s in pick.positions:  # increasing: the clips before s were encoded for an earlier pick or now
            data = None
            for j in range(max(1, s - K + 1), s + 1):
                if j not in features:
                    current = clip(j)
                    features[j] = np.array(encode(current), dtype=np.float32, copy=True)
                    data = current if j == s else data
                    first = current if j == 1 else first
            if data is None:
                data = clip(s)
            if s < K and padding is None:  # the cache's start: clip 1's first frame repeated (TubeletStream)
                assert first is not None  # s < K: clip 1 is in this window, encoded above or for an earlier pick
                padding = np.array(encode(np.repeat(first[:1], t, axis=0)), dtype=np.float32, copy=True)
            window = np.stack([features[j] if j >= 1 else padding for j in range(s - K + 1, s + 1)])
            for j in [j for j in features if j <= s - K + 1]:
                del features[j]  # later picks start their windows later
            yield data, window


def amma_samples(config: AMMAConfig, read_frame: Callable[[str, int], np.ndarray], picks: Sequence[Picks],
                 encode: Encode, log: Log | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All of `iter_amma_samples` stacked: clips (N, t, 3, H, W) and windows (N, K, c, h, w)."""
    pairs = list(iter_amma_samples(config, read_frame, picks, encode, log))
    return np.stack([c for c, _ in pairs]), np.stack([w for _, w in pairs])


def iter_astar_samples(config: AStarConfig, read_frame: Callable[[str, int], np.ndarray], picks: Sequence[Picks],
                       log: Log | None = None) -> Iterator[np.ndarray]:
    """The window (T, 3, H, W) ending at every picked key frame."""
    from amma_edge.data.sampling import window_frames
    from amma_edge.runtime import native

    for number, pick in enumerate(picks):
        if log:
            log(f"  [{number + 1}/{len(picks)}] {pick.video}: {len(pick.positions)} window(s)")
        frames: dict[int, np.ndarray] = {}
        for key in pick.positions:
            needed = [int(f) for f in window_frames(key, config.clip_len)]
            for f in needed:
                if f not in frames:
                    frames[f] = native.preprocess(read_frame(pick.video, f), mean=config.mean, std=config.std,
                                                  size=config.input_size)
            yield np.stack([frames[f] for f in needed])
            for f in [f for f in frames if f < needed[0]]:
                del frames[f]  # later windows start later


def astar_samples(config: AStarConfig, read_frame: Callable[[str, int], np.ndarray], picks: Sequence[Picks],
                  log: Log | None = None) -> np.ndarray:
    return np.stack(list(iter_astar_samples(config, read_frame, picks, log)))


__all__ = ["Picks", "amma_samples", "astar_samples", "clip_counts", "iter_amma_samples", "iter_astar_samples",
           "split_videos", "spread_picks"]
