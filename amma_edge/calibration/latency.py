"""CPU latency of fp32 and INT8 graphs in ONNX Runtime, measured side by side.

The models run interleaved (one inference of each per round, after warm-up), so a background load that
comes and goes slows all of them alike and their ratio stays meaningful on a busy machine.
"""
from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from amma_edge.calibration.collect import ort_session

WARMUP = 2


def interleaved_latency(models: Mapping[str, bytes], feed: Mapping[str, np.ndarray], *, runs: int = 20,
                        threads: int | None = None) -> dict[str, float]:
    """Median wall time in ms of one inference of each serialized model on `feed`, all run in turn `runs`
    times after WARMUP runs each."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    sessions = {label: ort_session(data, threads) for label, data in models.items()}
    times: dict[str, list[float]] = {label: [] for label in sessions}
    for _ in range(WARMUP):
        for session in sessions.values():
            session.run(None, dict(feed))
    for _ in range(runs):
        for label, session in sessions.items():
            start = time.perf_counter()
            session.run(None, dict(feed))
            times[label].append((time.perf_counter() - start) * 1e3)
    return {label: float(np.median(t)) for label, t in times.items()}


__all__ = ["interleaved_latency"]
