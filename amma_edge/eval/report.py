"""The tables `amma-edge eval` prints, from an `EvaluationResult`."""
from __future__ import annotations

import math

from amma_edge.eval.evaluate import EvaluationResult
from amma_edge.tables import format_table


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.2f}"


def per_class_table(result: EvaluationResult) -> str:
    """Frame AP, video AP at 0.5 and the error breakdown, one row per class, then the means."""
    video_50 = {c.label: c.ap for e in result.video.at if abs(e.threshold - 0.5) < 1e-9 for c in e.classes}
    errors = {c.label: c for c in result.errors.classes}
    rows = []
    for c in result.frame.classes:
        e = errors.get(c.label)
        rows.append([c.label, c.num_gt, c.num_detections, _pct(c.ap), _pct(video_50.get(c.label, float("nan"))),
                     *(_pct(getattr(e, k)) if e else "n/a"
                       for k in ("localization", "classification", "time", "other", "missed"))])
    m = result.errors.mean
    rows.append(["mean", sum(c.num_gt for c in result.frame.classes),
                 sum(c.num_detections for c in result.frame.classes), _pct(result.frame.mean_ap),
                 _pct(_safe_video(result, 0.5)),
                 *(_pct(getattr(m, k)) for k in ("localization", "classification", "time", "other", "missed"))])
    return format_table(["class", "GT boxes", "dets", "frame AP", "video AP@0.5", "E_L", "E_C", "E_T", "E_O",
                         "E_M"], rows)


def summary_table(result: EvaluationResult) -> str:
    rows = [[f"frame-mAP@{result.frame.iou_threshold:g}", _pct(result.frame.mean_ap)]]
    rows += [[f"video-mAP@{e.threshold:g}", _pct(e.mean_ap)] for e in result.video.at]
    rows.append(["video-mAP@0.5:0.95", _pct(result.video.map_50_95)])
    return format_table(["metric (%)", "value"], rows)


def _safe_video(result: EvaluationResult, threshold: float) -> float:
    for e in result.video.at:
        if abs(e.threshold - threshold) < 1e-9:
            return e.mean_ap
    return float("nan")
