"""One row of a benchmark: a (backend, precision) combination, its state and every figure measured for it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

OK, FAILED, UNAVAILABLE = "ok", "failed", "not available"
STATES = (OK, FAILED, UNAVAILABLE)


@dataclass
class Row:
    backend: str
    precision: str
    state: str  # ok | failed | not available
    reason: str = ""  # why it failed or is not available
    model: str = ""  # the preset name (amma-s, ...)
    model_path: str = ""  # the folder, engines or checkpoint it ran
    device: str = ""  # cpu | cuda
    size_mb: float | None = None  # the graph files it runs (ONNX, engines or the checkpoint)
    frame_map: float | None = None  # frame-mAP@0.5 (%), with --data
    video_map: float | None = None  # video-mAP@0.5 (%), with --data
    latency_ms: dict[str, float] | None = None  # per clip (AMMA) or key frame (A*): p50, p90, p99, mean
    fps: float | None = None  # end to end: timed frames / their wall time through the pipeline
    engine_fps: float | None = None  # timed frames / the time spent inside the engine calls
    frames: int = 0  # timed frames
    steps: int = 0  # timed clips (AMMA) or key frames (A*)
    seconds: float | None = None  # wall time of the timed steps
    peak_rss_mb: float | None = None
    peak_device_mem_mb: float | None = None
    device_mem_source: str | None = None
    avg_power_w: float | None = None
    energy_mj_per_frame: float | None = None
    power_source: str | None = None
    golden: dict[str, Any] | None = None  # golden_check.golden_summary
    timing_ms: dict[str, dict[str, float]] | None = None  # per pipeline stage over the timed steps
    telemetry: dict[str, Any] | None = None
    build: dict[str, Any] | None = None  # trt: engines built or reused
    evaluation: dict[str, Any] | None = None  # with --data: videos, frames scored, seconds
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {self.state!r}")

    @property
    def ok(self) -> bool:
        return self.state == OK

    @property
    def status(self) -> str:
        """'ok', 'failed: why' or 'not available here: why', as the table and JSON show it."""
        if self.state == OK:
            return OK
        return f"{'not available here' if self.state == UNAVAILABLE else 'failed'}: {self.reason}"

    @property
    def key(self) -> tuple[str, str]:
        return self.backend, self.precision

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, **dataclasses.asdict(self)}
