"""What one `amma-edge bench` run measures: the model, the combinations, the stream and the options."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from amma_edge.errors import AmmaEdgeError

BACKENDS = ("ort-cpu", "ort-cuda", "trt", "torch")
PRECISIONS = ("fp32", "fp16", "int8")
FRAME_SIZE = "320x240"  # of the default synthetic stream: a small camera's frames


@dataclass(frozen=True)
class BenchConfig:
    model: Path  # an `amma-edge export` folder (fp32)
    backends: tuple[str, ...] = BACKENDS
    precisions: tuple[str, ...] = PRECISIONS
    source: str | None = None  # None: the synthetic stream, rendered into memory first (capture costs ~0)
    frames: int = 120  # timed frames per combination (rounded up to whole clips)
    warmup: int = 16  # frames run first and left out of the figures (rounded up to whole clips)
    data: Path | None = None  # dataset for frame-mAP, scored through each combination's engines
    max_videos: int | None = None  # score only the first N test videos of `data`
    threads: int | None = None  # CPU threads per engine (ONNX Runtime intra-op, torch)
    int8_model: Path | None = None  # default: the calibrated sibling <model>-int8
    checkpoint: Path | None = None  # torch rows; default: the checkpoint model.json records
    torch_device: str = "cpu"  # where torch fp32 runs (fp16 always on CUDA)
    engine_cache: Path | None = None  # TensorRT engines; default: <model>/.bench-engines
    rebuild_engines: bool = False
    telemetry_interval_s: float = 0.1

    def __post_init__(self) -> None:
        for name, values, known in (("backend", self.backends, BACKENDS), ("precision", self.precisions, PRECISIONS)):
            unknown = [v for v in values if v not in known]
            if unknown or not values:
                raise AmmaEdgeError(f"unknown {name}(s) {', '.join(unknown) or '(none given)'}: choose from "
                                    f"{', '.join(known)} (comma-separated)")
        if self.frames < 1:
            raise AmmaEdgeError(f"--frames must be at least 1, got {self.frames}")
        if self.warmup < 0:
            raise AmmaEdgeError(f"--warmup must be 0 or more, got {self.warmup}")
        if self.threads is not None and self.threads < 1:
            raise AmmaEdgeError(f"--threads must be at least 1, got {self.threads}")
        if self.torch_device not in ("cpu", "cuda"):
            raise AmmaEdgeError(f"--torch-device must be cpu or cuda, got {self.torch_device!r}")
        if self.telemetry_interval_s <= 0:
            raise AmmaEdgeError(f"the telemetry interval must be positive, got {self.telemetry_interval_s}")

    @property
    def combinations(self) -> list[tuple[str, str]]:
        return [(b, p) for b in self.backends for p in self.precisions]

    @property
    def int8_dir(self) -> Path:
        return self.int8_model or self.model.with_name(f"{self.model.name}-int8")

    @property
    def engine_root(self) -> Path:
        return self.engine_cache or self.model / ".bench-engines"


def parse_list(text: str, known: Iterable[str], what: str) -> tuple[str, ...]:
    """'ort-cpu, trt' → ('ort-cpu', 'trt'), in the order given, without repeats; unknown names are refused."""
    known = tuple(known)
    items = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    unknown = [i for i in items if i not in known]
    if unknown or not items:
        raise AmmaEdgeError(f"unknown {what}(s) {', '.join(unknown) or '(none given)'}: choose from "
                            f"{', '.join(known)}, comma-separated")
    return items


def parse_fraction(text: str, what: str) -> float:
    """'10%' or '0.1' → 0.1; a bare number above 1 is read as percent ('10' → 0.1)."""
    raw = text.strip()
    try:
        value = float(raw.rstrip("%"))
    except ValueError:
        raise AmmaEdgeError(f"{what} must be a percentage like 10% (or a fraction like 0.1), got {text!r}") from None
    if raw.endswith("%") or value > 1:
        value /= 100
    if not 0 <= value < 1:
        raise AmmaEdgeError(f"{what} must lie between 0% and 100%, got {text!r}")
    return value
