"""Signal-to-quantization-noise ratio, the accuracy measure of a quantized graph against its fp32 original."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np


class SQNR:
    """SQNR = 10·log10(Σ ref² / Σ (ref − quantized)²) in dB, accumulated over many outputs.

    Higher is better; every 6 dB is one bit. It is +inf when the outputs are identical and −inf when the
    reference is all zeros but the quantized output is not.
    """

    def __init__(self) -> None:
        self.signal = 0.0
        self.noise = 0.0

    def add(self, reference: np.ndarray, quantized: np.ndarray) -> None:
        ref = np.asarray(reference, dtype=np.float64)
        diff = np.asarray(quantized, dtype=np.float64) - ref
        self.signal += float(np.sum(ref * ref))
        self.noise += float(np.sum(diff * diff))

    @property
    def db(self) -> float:
        if self.noise == 0.0:
            return math.inf
        if self.signal == 0.0:
            return -math.inf
        return 10.0 * math.log10(self.signal / self.noise)


def sqnr_db(reference: np.ndarray, quantized: np.ndarray) -> float:
    acc = SQNR()
    acc.add(reference, quantized)
    return acc.db


def output_sqnr(pairs: Iterable[tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]]) -> dict[str, float]:
    """SQNR per output name over (reference outputs, quantized outputs) pairs."""
    acc: dict[str, SQNR] = {}
    for reference, quantized in pairs:
        for name, ref in reference.items():
            acc.setdefault(name, SQNR()).add(ref, quantized[name])
    return {name: a.db for name, a in acc.items()}


def json_db(value: float) -> float | str:
    """A dB value for JSON, which has no infinities: rounded, or "inf" / "-inf"."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return round(float(value), 3)


__all__ = ["SQNR", "json_db", "output_sqnr", "sqnr_db"]
