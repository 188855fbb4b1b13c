"""Frame-mAP and video-mAP of an exported folder, through the same streaming evaluation `amma-edge eval` runs
(`amma_edge.eval.evaluate`), on ONNX Runtime: the accuracy reported is that of the deployed path."""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amma_edge.models.config import AMMAConfig


@dataclass(frozen=True)
class Accuracy:
    frame_map: float  # percent at IoU 0.5; NaN when no class has ground truth
    video_map: float  # percent at IoU 0.5
    video_map_50_95: float
    videos: int

    def as_dict(self) -> dict[str, Any]:
        clean = lambda x: None if x is None or math.isnan(x) else round(float(x), 4)  # noqa: E731
        return {"frame_map": clean(self.frame_map), "video_map_50": clean(self.video_map),
                "video_map_50_95": clean(self.video_map_50_95), "videos": self.videos}


def evaluate_folder(folder: str | os.PathLike, gt: Any, root: str | os.PathLike, videos: Sequence[str], *,
                    threads: int | None = None) -> Accuracy:
    from amma_edge.eval.evaluate import evaluate_amma, evaluate_astar
    from amma_edge.runtime.runners.model import RunnerOptions, open_model

    with open_model(Path(folder), "ort", RunnerOptions(threads=threads)) as model:
        if isinstance(model.config, AMMAConfig):
            result = evaluate_amma(model.encode, model.head, model.config, root, gt, videos=list(videos))
        else:
            result = evaluate_astar(model.detect, model.config, root, gt, videos=list(videos))
    video_50 = next((e.mean_ap for e in result.video.at if abs(e.threshold - 0.5) < 1e-9), math.nan)
    return Accuracy(result.frame.mean_ap, video_50, result.video.map_50_95, result.videos)


def frame_map_drop(fp32: Accuracy, int8: Accuracy) -> float:
    """fp32 − INT8 frame-mAP in points; NaN when either is undefined."""
    if math.isnan(fp32.frame_map) or math.isnan(int8.frame_map):
        return math.nan
    return float(fp32.frame_map - int8.frame_map)


__all__ = ["Accuracy", "evaluate_folder", "frame_map_drop"]
