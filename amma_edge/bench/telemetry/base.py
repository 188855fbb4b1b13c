"""The interface every telemetry source implements, and opening the ones this machine has."""
from __future__ import annotations

import abc
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar


class SourceUnavailable(Exception):
    """This machine lacks the library, driver or hardware a source reads; the message says which."""


class TelemetrySource(abc.ABC):
    """Reads a few figures at once; `sample` is called from the sampler's thread every interval."""

    name: ClassVar[str] = ""

    @abc.abstractmethod
    def sample(self) -> dict[str, float]:
        """Metric name (with its unit as suffix: _mb, _pct, _w, _c, _mhz) → current value."""

    def describe(self) -> dict[str, Any]:
        """Static facts worth recording once (power mode, clocks pinned or not)."""
        return {}

    def close(self) -> None:
        """Release what the source opened; called once."""


def metric_name(text: str) -> str:
    """A sensor's label as a metric name fragment: 'VDD_CPU_GPU_CV' → 'vdd_cpu_gpu_cv'."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "unnamed"


def _openers() -> dict[str, Callable[[float], TelemetrySource]]:
    from amma_edge.bench.telemetry.host import HostSource
    from amma_edge.bench.telemetry.jetson import JtopSource
    from amma_edge.bench.telemetry.nvml import NvmlSource

    return {"host": lambda interval: HostSource(), "nvml": lambda interval: NvmlSource(),
            "jetson": lambda interval: JtopSource(interval)}


SOURCE_NAMES = ("host", "nvml", "jetson")


def open_sources(names: Sequence[str] = SOURCE_NAMES, interval_s: float = 0.1
                 ) -> tuple[list[TelemetrySource], dict[str, str]]:
    """The sources of `names` this machine has, and for every name "ok" or "absent: why"."""
    openers = _openers()
    sources: list[TelemetrySource] = []
    status: dict[str, str] = {}
    for name in names:
        try:
            sources.append(openers[name](interval_s))
            status[name] = "ok"
        except SourceUnavailable as exc:
            status[name] = f"absent: {exc}"
    return sources, status
