"""Real inputs for parity checks and golden files: clips of a dataset's test videos, preprocessed exactly as the
device runtime does it (`amma_edge.runtime.native.preprocess_batch`: BGR uint8 → resized, normalised RGB).

Random inputs exercise every weight; real clips exercise the value ranges the model meets in use (a trained
network's activations on real frames can reach magnitudes random inputs never produce).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, ModelConfig

DEFAULT_DATA_SAMPLES = 4


@dataclass(frozen=True)
class ClipSample:
    """The network input around one key frame of one video: AMMA (K, t, 3, H, W), A* (T, 3, H, W)."""

    video: str
    key_frame: int
    frames: np.ndarray

    def describe(self) -> str:
        return f"video {self.video}, key frame {self.key_frame}"


def dataset_samples(config: ModelConfig, dataset: str | os.PathLike, count: int = DEFAULT_DATA_SAMPLES,
                    split: str = "test") -> list[ClipSample]:
    """`count` inputs from videos spread evenly over the dataset's `split`, each at the middle of its video.

    AMMA samples hold the K consecutive clips of t frames ending at the key frame (the K clips the head sees
    at that key frame); A* samples the window of clip_len frames ending there.
    """
    from amma_edge.data.frames import FrameReader
    from amma_edge.data.loading import load_dataset
    from amma_edge.data.sampling import amma_clip_frames, window_frames
    from amma_edge.runtime.native import preprocess_batch

    if count < 1:
        raise AmmaEdgeError(f"the number of data samples must be at least 1, got {count}")
    gt, root = load_dataset(dataset)
    videos = sorted(v for v in gt.split_videos(split) if gt.nframes.get(v, 0) > 0)
    if not videos:
        raise AmmaEdgeError(f"dataset {dataset} has no {split} videos with frames: pass a dataset with a {split} split")
    picks = sorted({int(i) for i in np.linspace(0, len(videos) - 1, num=min(count, len(videos)))})
    reader = FrameReader(root, gt)
    samples = []
    try:
        for index in picks:
            video = videos[index]
            key = max(1, gt.nframes[video] // 2)
            if isinstance(config, AMMAConfig):
                numbers = amma_clip_frames(key, config.K, config.t, config.frame_step, config.hop)  # (K, t)
            else:
                numbers = window_frames(key, config.clip_len)[None]  # (1, T)
            clips = [preprocess_batch([reader(video, int(f)) for f in row], mean=config.mean, std=config.std,
                                      size=config.input_size) for row in numbers]
            frames = np.stack(clips) if isinstance(config, AMMAConfig) else clips[0]
            samples.append(ClipSample(video, key, np.ascontiguousarray(frames, dtype=np.float32)))
    finally:
        reader.close()
    return samples


def batched(items: list[np.ndarray], batch: int) -> list[np.ndarray]:
    """One batch per item: the item and the `batch` − 1 after it (wrapping around), stacked."""
    n = len(items)
    return [np.stack([items[(i + j) % n] for j in range(batch)]) for i in range(n)]
