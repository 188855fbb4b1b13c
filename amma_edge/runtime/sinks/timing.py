"""Per-stage timing of the pipeline, reported at exit as a table (jetson-inference's timing report).

Every stage keeps its samples for the p99. A run of days would pile up millions, so beyond `max_samples` a
uniform reservoir sample is kept instead: the mean stays exact (running sum), the p99 becomes an estimate.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from amma_edge.tables import format_table


class StageTimer:
    def __init__(self, stages: tuple[str, ...], max_samples: int = 100_000):
        self.stages = stages
        self.max_samples = max_samples
        self._samples: dict[str, list[float]] = {s: [] for s in stages}
        self._count = dict.fromkeys(stages, 0)
        self._sum = dict.fromkeys(stages, 0.0)
        self._rng = random.Random(0)

    def add(self, stage: str, ms: float) -> None:
        if stage not in self._samples:
            self._samples[stage], self._count[stage], self._sum[stage] = [], 0, 0.0
            self.stages = (*self.stages, stage)
        self._count[stage] += 1
        self._sum[stage] += ms
        samples = self._samples[stage]
        if len(samples) < self.max_samples:
            samples.append(ms)
        else:
            j = self._rng.randrange(self._count[stage])
            if j < self.max_samples:
                samples[j] = ms

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - start) * 1e3)

    def samples(self, stage: str) -> np.ndarray:
        """The kept samples of `stage` (ms) in the order they came, while fewer than `max_samples` (benchmarks
        drop the warm-up ones); beyond that a uniform sample in no particular order."""
        return np.asarray(self._samples.get(stage, ()), dtype=np.float64)

    def stats(self) -> dict[str, dict[str, float]]:
        out = {}
        for stage in self.stages:
            n = self._count[stage]
            if n:
                out[stage] = {"mean_ms": round(self._sum[stage] / n, 3),
                              "p99_ms": round(float(np.percentile(self._samples[stage], 99)), 3), "count": n}
        return out

    def table(self, unit: str = "clip") -> str:
        rows = [[stage, f"{s['mean_ms']:.2f}", f"{s['p99_ms']:.2f}", s["count"]] for stage, s in self.stats().items()]
        return format_table(["stage", "mean ms", "p99 ms", f"{unit}s"], rows)
