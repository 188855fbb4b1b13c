"""The one protocol every calibrator is fed through, and the clip cache behind it.

`CalibrationDataReader` is ONNX Runtime's contract: `get_next()` returns the next feed (input name → array)
or None at the end, `rewind()` starts over. The calibrators make two passes (maximum, then histograms), the
sensitivity analysis and the report more, so the inputs are computed once, from the dataset, and stored in a
`ClipCache`: one float32 .npy per graph at an explicit path, memory-mapped on reading, with a JSON sidecar
that says what it holds so that a cache made for another model or dataset is never reused by mistake.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.fileio import atomic_write_text

Feed = dict[str, np.ndarray]


@runtime_checkable
class CalibrationDataReader(Protocol):
    """ONNX Runtime's calibration data reader: feeds one at a time, then None; `rewind` starts again."""

    def get_next(self) -> Feed | None: ...

    def rewind(self) -> None: ...


def iterate(reader: CalibrationDataReader) -> Iterator[Feed]:
    """Every feed of `reader` from the start (it is rewound first)."""
    reader.rewind()
    while (feed := reader.get_next()) is not None:
        yield feed


@dataclass(frozen=True)
class ClipCache:
    """N preprocessed inputs of one graph: `<folder>/<graph>.npy` (N, *sample_shape) and `<graph>.json`."""

    folder: Path
    graph: str

    @property
    def array_path(self) -> Path:
        return self.folder / f"{self.graph}.npy"

    @property
    def info_path(self) -> Path:
        return self.folder / f"{self.graph}.json"

    def exists(self) -> bool:
        return self.array_path.is_file() and self.info_path.is_file()

    def info(self) -> dict[str, Any]:
        try:
            return json.loads(self.info_path.read_text())
        except (OSError, ValueError) as exc:
            raise AmmaEdgeError(f"the clip cache {self.info_path} is unreadable ({exc}): delete {self.folder} "
                                "and calibrate again") from exc

    def matches(self, key: Mapping[str, Any]) -> bool:
        """Whether the cache exists and was made for `key` (model, dataset, split, sample plan)."""
        return self.exists() and self.info().get("key") == json.loads(json.dumps(dict(key)))  # tuples → lists

    def write(self, samples: np.ndarray | list[np.ndarray], key: Mapping[str, Any], input_name: str) -> None:
        """Store `samples` (stacked along a new first axis) for `key`."""
        writer = self.writer(len(samples))
        try:
            for sample in samples:
                writer.append(sample)
            writer.commit(key, input_name)
        except BaseException:
            writer.abort()
            raise

    def writer(self, count: int) -> ClipWriter:
        """A writer of `count` samples straight into the (memory-mapped) file, so that hundreds of clips never
        sit in memory at once."""
        return ClipWriter(self, count)

    def load(self) -> np.ndarray:
        """All samples, memory-mapped (read-only)."""
        if not self.exists():
            raise AmmaEdgeError(f"no clip cache for {self.graph} in {self.folder}: calibrate again to rebuild it")
        return np.load(self.array_path, mmap_mode="r")

    def reader(self, batch: int = 1, limit: int | None = None) -> ArrayReader:
        info = self.info()
        return ArrayReader(self.load(), str(info["input"]), batch=batch, limit=limit)


class ClipWriter:
    """Fills a ClipCache sample by sample. The .npy is written under a temporary name and renamed, then the
    .json sidecar is written (both atomically), so a cache whose sidecar exists is complete."""

    def __init__(self, cache: ClipCache, count: int):
        if count < 1:
            raise ValueError(f"a clip cache holds at least one sample, got {count}")
        self.cache, self.count = cache, count
        self._tmp = cache.folder / f".{cache.graph}.npy.tmp"
        self._array: np.ndarray | None = None
        self._next = 0

    def append(self, sample: np.ndarray) -> None:
        if self._array is None:
            self.cache.folder.mkdir(parents=True, exist_ok=True)
            self.cache.info_path.unlink(missing_ok=True)  # the old sidecar no longer describes the file
            self._array = np.lib.format.open_memmap(self._tmp, mode="w+", dtype=np.float32,
                                                    shape=(self.count, *np.shape(sample)))
        if self._next >= self.count:
            raise RuntimeError(f"{self.cache.graph}: more than the {self.count} samples announced")
        self._array[self._next] = sample
        self._next += 1

    def commit(self, key: Mapping[str, Any], input_name: str) -> None:
        if self._array is None or self._next != self.count:
            raise RuntimeError(f"{self.cache.graph}: {self._next} of {self.count} samples written")
        shape = list(self._array.shape[1:])
        self._array.flush()
        self._array = None
        os.replace(self._tmp, self.cache.array_path)
        atomic_write_text(self.cache.info_path, json.dumps({"graph": self.cache.graph, "input": input_name,
                                                            "count": self.count, "sample_shape": shape,
                                                            "key": dict(key)}, indent=1) + "\n")

    def abort(self) -> None:
        self._array = None
        self._tmp.unlink(missing_ok=True)


class ArrayReader:
    """A `CalibrationDataReader` over N stacked samples, in batches of `batch` (the graph's static batch).

    The last batch is completed with the first samples, as the export's parity feeds are, so every sample
    is seen and every feed has the graph's shape. `limit` uses only the first `limit` samples.
    """

    def __init__(self, samples: np.ndarray, input_name: str, *, batch: int = 1, limit: int | None = None):
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        if len(samples) == 0:
            raise AmmaEdgeError(f"no calibration samples for input {input_name!r}")
        self.samples = samples if limit is None else samples[:max(1, limit)]
        self.input_name = input_name
        self.batch = batch
        self._next = 0

    def __len__(self) -> int:
        """The number of feeds (batches)."""
        return -(-len(self.samples) // self.batch)

    @property
    def sample_count(self) -> int:
        return len(self.samples)

    def rewind(self) -> None:
        self._next = 0

    def get_next(self) -> Feed | None:
        n = len(self.samples)
        if self._next >= n:
            return None
        index = [(self._next + j) % n for j in range(self.batch)]
        self._next += self.batch
        rows = self.samples[index[0]:index[0] + 1] if self.batch == 1 else self.samples[index]
        return {self.input_name: np.ascontiguousarray(rows, dtype=np.float32)}

    def __iter__(self) -> Iterator[Feed]:
        return iterate(self)


__all__ = ["ArrayReader", "CalibrationDataReader", "ClipCache", "ClipWriter", "Feed", "iterate"]
