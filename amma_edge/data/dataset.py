"""torch Datasets that turn (video, key frame) pairs into network inputs and training targets.

One sample = the frames a detector sees for one key frame (AMMA: K clips of t frames; A*: a window of
past frames), decoded by a pluggable `read_frame(video, frame) -> BGR uint8` (default: `amma_edge.data.frames.FrameReader`,
which reads frame images or video files), augmented as one unit, resized to the model's input size and normalised
exactly as the model expects (BGR → RGB, 0-1, minus mean, over std), plus the targets of that key frame.

Boxes are annotated at `gt.resolution[video]`; when the decoded frames have another size (re-extracted
frames, a video file at a different resolution) the boxes are scaled to the frames.

Randomness comes from torch's generator, which DataLoader seeds differently per worker and per epoch,
so `torch.manual_seed` makes a run reproducible and no two workers repeat each other's augmentations.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.augment import AugmentConfig, augment_clip, mean_fill, resize_clip
from amma_edge.data.frames import FrameReader
from amma_edge.data.sampling import (
    amma_clip_frames,
    amma_tubelets,
    evaluation_samples,
    keyframe_boxes,
    training_samples,
    window_frames,
)
from amma_edge.data.targets import amma_targets, astar_targets, merge_multilabel
from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig

ReadFrame = Callable[[str, int], np.ndarray]

ASTAR_STRIDE = 32  # YOLO grid of the A* head


def normalise_frames(frames: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(N, H, W, 3) uint8 BGR → (N, 3, H, W) float32 RGB, (x / 255 − mean) / std with mean / std in RGB 0-1."""
    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float32))
    offset = -np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32)
    out = np.empty((frames.shape[0], 3) + frames.shape[1:3], dtype=np.float32)
    for c in range(3):  # RGB channel c is BGR channel 2 − c
        np.multiply(frames[..., 2 - c], scale[c], out=out[:, c], dtype=np.float32)
        out[:, c] += offset[c]
    return out


class _ClipDataset(Dataset):
    """Shared machinery: sample list, frame decoding, box scaling, augmentation, normalisation."""

    def __init__(
        self,
        root: str | os.PathLike,
        gt: GroundTruth,
        config: ModelConfig,
        samples: list[tuple[str, int]],
        augment: AugmentConfig | None,
        read_frame: ReadFrame | None,
    ):
        self.root = root
        self.gt = gt
        self.config = config
        self.samples = samples
        self.augment = augment
        self.read_frame: ReadFrame = read_frame if read_frame is not None else FrameReader(root, gt)
        self._fill = mean_fill(config.mean)

    def __len__(self) -> int:
        return len(self.samples)

    def _read(self, video: str, frames: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Decode each distinct frame once; return them and, per requested frame, its index among them.

        Overlapping clips (hop < t) and the padding before frame 1 ask for the same frame more than once; the
        index lets `_prepare` augment and normalise each distinct frame once and expand at the end.
        """
        distinct, index = np.unique(frames.reshape(-1), return_inverse=True)
        return [self._decode(video, int(f)) for f in distinct.tolist()], index

    def _decode(self, video: str, frame: int) -> np.ndarray:
        return self.read_frame(video, frame)

    def _prepare(
        self, video: str, frames: list[np.ndarray], index: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scale annotation boxes to the decoded size, augment or resize, normalise: (N, 3, H, W), boxes.

        One augmentation is drawn per sample and applied alike to every frame, so transforming the distinct
        frames and then taking `index` gives what transforming every requested frame would, for less work.
        Clips without a repeated frame skip that copy.
        """
        boxes = self._to_frame_scale(video, frames[0].shape, boxes)
        if self.augment is not None:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            images, boxes = augment_clip(frames, boxes, self.config.input_size, self.augment, rng, self._fill)
        else:
            images, boxes = resize_clip(frames, boxes, self.config.input_size)
        clips = normalise_frames(images, self.config.mean, self.config.std)
        return (clips if np.array_equal(index, np.arange(len(clips))) else clips[index]), boxes

    def _to_frame_scale(self, video: str, shape: tuple[int, ...], boxes: np.ndarray) -> np.ndarray:
        annotated = self.gt.resolution.get(video)
        if annotated is None or tuple(annotated) == tuple(shape[:2]):
            return boxes
        sy, sx = shape[0] / annotated[0], shape[1] / annotated[1]
        return boxes * np.array([sx, sy, sx, sy], dtype=np.float32)


class AMMATrainDataset(_ClipDataset):
    """AMMA training samples: every annotated key frame of a split (rule in `amma_edge.data.sampling`).

    Each item is a dict of tensors:
      clips    float32 (K, t, 3, H, W)  normalised RGB, the K clips ending at the key frame
      heatmap  float32 (C, H/8, W/8)
      index    int64   (max_objs,)       flat y·w + x of each tubelet's integer key-frame centre
      mask     float32 (max_objs,)       1 for real tubelets
      movement float32 (max_objs, 2K)    clip-end centre − integer key-frame centre, grid units
      size     float32 (max_objs, 2K)    clip-end box (w, h), grid units
    and `video` (str), `frame` (int, the key frame). `augment=None` turns augmentation off.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        gt: GroundTruth,
        config: AMMAConfig,
        split: str = "train",
        augment: AugmentConfig | None = AugmentConfig(),
        read_frame: ReadFrame | None = None,
        *,
        split_index: int = 0,
        min_history: int = 0,
        max_objs: int = 128,
        min_radius: int = 0,
    ):
        super().__init__(root, gt, config, training_samples(gt, split, split_index, min_history), augment, read_frame)
        self.max_objs = max_objs
        self.min_radius = min_radius

    def __getitem__(self, i: int) -> dict[str, Any]:
        cfg: AMMAConfig = self.config  # type: ignore[assignment]
        video, key = self.samples[i]
        labels, boxes = amma_tubelets(self.gt.gttubes[video], key, cfg.K, cfg.t, cfg.frame_step, cfg.hop)
        frames, index = self._read(video, amma_clip_frames(key, cfg.K, cfg.t, cfg.frame_step, cfg.hop))
        clips, boxes = self._prepare(video, frames, index, boxes)
        targets = amma_targets(labels, boxes, cfg.num_classes, cfg.input_size, cfg.stride, self.max_objs,
                               self.min_radius)
        sample: dict[str, Any] = {"clips": torch.from_numpy(clips.reshape((cfg.K, cfg.t) + clips.shape[1:]))}
        sample.update({k: torch.from_numpy(v) for k, v in targets.items()})
        sample.update(video=video, frame=key)
        return sample


class AStarTrainDataset(_ClipDataset):
    """A* training samples: every annotated key frame, with a window of `clip_len` past frames.

    Each item is a dict of tensors (A anchors, gh × gw = input / 32 grid, C classes, M = max_objs):
      clips      float32 (T, 3, H, W)
      obj_mask   float32 (A, gh, gw)
      txty       float32 (A, gh, gw, 2)
      twth       float32 (A, gh, gw, 2)
      classes    float32 (A, gh, gw, C)   multi-hot
      boxes      float32 (A, gh, gw, 4)   responsible box, x1 y1 x2 y2 in input pixels
      gt_boxes   float32 (M, 4), gt_classes float32 (M, C), gt_mask float32 (M,)
    and `video`, `frame`. `anchors` (A, 2) in grid cells default to `config.anchors` when it has them.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        gt: GroundTruth,
        config: AStarConfig,
        split: str = "train",
        augment: AugmentConfig | None = AugmentConfig(),
        read_frame: ReadFrame | None = None,
        *,
        anchors: np.ndarray | Sequence[Sequence[float]] | None = None,
        split_index: int = 0,
        frame_stride: int = 1,
        max_objs: int = 128,
    ):
        super().__init__(root, gt, config, training_samples(gt, split, split_index), augment, read_frame)
        anchors = anchors if anchors is not None else getattr(config, "anchors", None)
        if anchors is None:
            raise AmmaEdgeError("A* training needs anchors ((w, h) pairs in grid cells): pass anchors=... or use a "
                                "configuration that defines them")
        self.anchors = np.asarray(anchors, dtype=np.float32).reshape(-1, 2)
        self.frame_stride = frame_stride
        self.max_objs = max_objs

    def __getitem__(self, i: int) -> dict[str, Any]:
        cfg: AStarConfig = self.config  # type: ignore[assignment]
        video, key = self.samples[i]
        labels, boxes = keyframe_boxes(self.gt.gttubes[video], key)
        classes, boxes = merge_multilabel(labels, boxes, cfg.num_classes)
        frames, index = self._read(video, window_frames(key, cfg.clip_len, self.frame_stride))
        clips, boxes = self._prepare(video, frames, index, boxes)
        targets = astar_targets(classes, boxes, self.anchors, cfg.input_size, ASTAR_STRIDE, self.max_objs)
        sample: dict[str, Any] = {"clips": torch.from_numpy(clips)}
        sample.update({k: torch.from_numpy(v) for k, v in targets.items()})
        sample.update(video=video, frame=key)
        return sample


class EvalDataset(_ClipDataset):
    """Every (video, frame) of a split as a key frame, unaugmented, for either model family.

    Items: clips float32 (K, t, 3, H, W) for AMMA or (T, 3, H, W) for A*; `video` (str); `frame` (int);
    `resolution` int64 (2,), the annotated (height, width) that detections map back to.
    The last window's decoded frames are kept, so in-order iteration decodes each frame about once.
    `frame_stride` spaces A*'s window; AMMA's clips are spaced by the config's `frame_step`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        gt: GroundTruth,
        config: ModelConfig,
        split: str = "test",
        read_frame: ReadFrame | None = None,
        *,
        split_index: int = 0,
        frame_stride: int = 1,
    ):
        super().__init__(root, gt, config, evaluation_samples(gt, split, split_index), None, read_frame)
        self.frame_stride = frame_stride
        self._window = ((config.K - 1) * config.clip_hop + config.clip_span if isinstance(config, AMMAConfig)
                        else config.clip_len * frame_stride)
        self._recent: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def _decode(self, video: str, frame: int) -> np.ndarray:
        key = (video, frame)
        image = self._recent.get(key)
        if image is None:
            image = self.read_frame(video, frame)
            self._recent[key] = image
            while len(self._recent) > self._window:
                self._recent.popitem(last=False)
        return image

    def __getitem__(self, i: int) -> dict[str, Any]:
        video, key = self.samples[i]
        cfg = self.config
        if isinstance(cfg, AMMAConfig):
            frame_ids = amma_clip_frames(key, cfg.K, cfg.t, cfg.frame_step, cfg.hop)
        else:
            frame_ids = window_frames(key, cfg.clip_len, self.frame_stride)
        frames, index = self._read(video, frame_ids)
        clips, _ = self._prepare(video, frames, index, np.zeros((0, 4), np.float32))
        if isinstance(cfg, AMMAConfig):
            clips = clips.reshape((cfg.K, cfg.t) + clips.shape[1:])
        resolution = self.gt.resolution.get(video, frames[0].shape[:2])
        return {"clips": torch.from_numpy(clips), "video": video, "frame": key,
                "resolution": torch.tensor(tuple(resolution), dtype=torch.int64)}
