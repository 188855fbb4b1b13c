"""The settings of one calibration run, checked once, before anything is read or written."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amma_edge.calibration.calibrators import DEFAULT_METHOD, DEFAULT_PERCENTILE, METHODS, NUM_BINS
from amma_edge.calibration.trt_cache import DEFAULT_TRT_VERSION, trt_version_tag
from amma_edge.errors import AmmaEdgeError

DEFAULT_SAMPLES = 512
RECOMMENDED_SAMPLES = 500  # per graph; fewer still calibrate, with a warning
SPLITS = ("train", "test")


@dataclass(frozen=True)
class CalibrationOptions:
    samples: int = DEFAULT_SAMPLES  # calibration inputs per graph
    method: str = DEFAULT_METHOD
    percentile: float = DEFAULT_PERCENTILE
    keep_float: int | str = 0  # the N most sensitive layers stay float, or "auto"
    max_drop: float = 1.0  # frame-mAP points that may be lost, for keep_float="auto"
    split: str = "train"  # where the calibration clips come from
    evaluate: bool = True  # fp32 and INT8 frame-/video-mAP on the test split in the report
    eval_videos: int | None = None  # only the first N test videos (report and keep_float="auto")
    sensitivity_samples: int = 32  # calibration inputs per graph for the per-layer SQNR
    report_samples: int = 64  # calibration inputs per graph for the report's per-output SQNR
    latency_runs: int = 20
    threads: int | None = None  # ONNX Runtime intra-op threads (None: its default)
    cache: Path | None = None  # folder keeping the preprocessed calibration inputs; None: a temporary one
    trt_version: str = DEFAULT_TRT_VERSION  # header of the TensorRT calibration caches
    bins: int = NUM_BINS
    force: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise AmmaEdgeError(f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not 0.0 < self.percentile <= 100.0:
            raise AmmaEdgeError(f"--percentile must be in (0, 100], got {self.percentile}")
        if self.samples < 1:
            raise AmmaEdgeError(f"--samples must be at least 1, got {self.samples}")
        keep = self.keep_float
        if not (keep == "auto" or (isinstance(keep, int) and not isinstance(keep, bool) and keep >= 0)):
            raise AmmaEdgeError(f"--keep-float must be a number of layers (0 or more) or 'auto', got {keep!r}")
        if not self.max_drop >= 0.0:
            raise AmmaEdgeError(f"--max-drop must be 0 or more frame-mAP points, got {self.max_drop}")
        if self.split not in SPLITS:
            raise AmmaEdgeError(f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.eval_videos is not None and self.eval_videos < 1:
            raise AmmaEdgeError(f"--eval-videos must be at least 1, got {self.eval_videos}")
        if keep == "auto" and not self.evaluate:
            raise AmmaEdgeError("--keep-float auto measures the frame-mAP drop, which --no-eval skips: drop one of "
                                "them")
        for name in ("sensitivity_samples", "report_samples", "latency_runs", "bins"):
            if getattr(self, name) < 1:
                raise AmmaEdgeError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.threads is not None and self.threads < 1:
            raise AmmaEdgeError(f"--threads must be at least 1, got {self.threads}")
        trt_version_tag(self.trt_version)  # a clear error for a malformed version

    @property
    def needs_sensitivity(self) -> bool:
        return self.keep_float == "auto" or (isinstance(self.keep_float, int) and self.keep_float > 0)


__all__ = ["DEFAULT_SAMPLES", "RECOMMENDED_SAMPLES", "SPLITS", "CalibrationOptions"]
