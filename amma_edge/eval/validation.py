"""Validation during training by the metric that matters: frame- and video-mAP through the streaming path.

The validation loss says little about detection quality (a focal loss can fall while peaks stay in the wrong
place); scoring test videos the way `amma-edge eval` does picks best.pt by what users will measure.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.models.config import ModelConfig


def spaced_subset(videos: list[str], count: int) -> list[str]:
    """`count` videos spread evenly over the list (so every class is likely in), or all when count is 0."""
    if count <= 0 or count >= len(videos):
        return list(videos)
    index = np.linspace(0, len(videos) - 1, count).round().astype(int)
    return [videos[i] for i in sorted(set(index.tolist()))]


def streaming_map_evaluator(
    model_config: ModelConfig,
    gt: GroundTruth,
    root: str | Path,
    *,
    split_index: int = 0,
    max_videos: int = 0,
    class_names: tuple[str, ...] = (),
) -> Callable[[Any], dict[str, float]]:
    """An `evaluate(model)` for the trainer: {"frame_mAP", "video_mAP@0.5"} in percent on the test videos."""
    from amma_edge.eval.detector import torch_detector
    from amma_edge.eval.evaluate import evaluate_amma, evaluate_astar

    videos = spaced_subset(gt.split_videos("test", split_index), max_videos)

    def evaluate(model: Any) -> dict[str, float]:
        module = getattr(model, "module", model)  # DistributedDataParallel wraps the model
        device = str(next(module.parameters()).device)
        detector = torch_detector(module, model_config, class_names, device=device)
        if detector.detect is not None:
            result = evaluate_astar(detector.detect, model_config, root, gt, videos=videos)  # type: ignore[arg-type]
        else:
            result = evaluate_amma(detector.encode, detector.head, model_config, root, gt,  # type: ignore[arg-type]
                                   videos=videos)
        video_50 = result.video.mean_ap(0.5)
        return {"frame_mAP": _finite(result.frame.mean_ap), "video_mAP@0.5": _finite(video_50)}

    return evaluate


def _finite(x: float) -> float:
    return 0.0 if math.isnan(x) else float(x)
