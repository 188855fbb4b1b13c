"""Sampling every source in a background thread while a benchmark row runs, and summarising the series."""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from amma_edge.bench.telemetry.base import TelemetrySource


@dataclass(frozen=True)
class MetricSummary:
    mean: float
    max: float
    min: float
    samples: int

    def as_dict(self) -> dict[str, float]:
        return {"mean": round(self.mean, 3), "max": round(self.max, 3), "min": round(self.min, 3),
                "samples": self.samples}


class TelemetrySampler:
    """`with TelemetrySampler(sources) as s: work()`, then `s.summary()`. One sample is taken as it starts and
    one as it stops, so even work shorter than the interval gets two."""

    def __init__(self, sources: Sequence[TelemetrySource], interval_s: float = 0.1):
        self.sources = list(sources)
        self.interval_s = interval_s
        self._series: dict[str, list[float]] = {}
        self.errors: dict[str, str] = {}  # source → its first failure (the source is skipped from then on)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seconds = 0.0

    def _sample_once(self) -> None:
        for source in self.sources:
            if source.name in self.errors:
                continue
            try:
                values = source.sample()
            except Exception as exc:  # a sensor read failing mid-run must not fail the benchmark
                self.errors[source.name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
                continue
            for key, value in values.items():
                self._series.setdefault(key, []).append(float(value))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample_once()

    def __enter__(self) -> TelemetrySampler:
        self._started = time.perf_counter()
        self._sample_once()
        self._thread = threading.Thread(target=self._loop, name="amma-edge-telemetry", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample_once()
        self.seconds = time.perf_counter() - self._started

    def summary(self) -> dict[str, MetricSummary]:
        return {k: MetricSummary(sum(v) / len(v), max(v), min(v), len(v)) for k, v in sorted(self._series.items())}

    def mean(self, metric: str) -> float | None:
        values = self._series.get(metric)
        return sum(values) / len(values) if values else None

    def peak(self, metric: str) -> float | None:
        values = self._series.get(metric)
        return max(values) if values else None

    def as_dict(self) -> dict[str, Any]:
        return {"interval_s": self.interval_s, "seconds": round(self.seconds, 3),
                "metrics": {k: s.as_dict() for k, s in self.summary().items()}, "errors": dict(self.errors)}
