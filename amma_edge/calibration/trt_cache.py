"""TensorRT INT8 calibration caches, for TensorRT releases (older JetPacks) that build INT8 engines by implicit
quantization from a calibrator instead of from Q/DQ nodes.

The format is the text TensorRT's calibrators write and read back through `read_calibration_cache`:

    TRT-8602-EntropyCalibration2
    clip: 3c010a14
    /encoder/backbone/conv1/conv1.0/Conv_output_0: 3d4ccccd
    ...

The first line names the TensorRT version (major·1000 + minor·100 + patch for 8.x, major·10000 + minor·100
+ patch from 10.0 on) and the calibration algorithm; TensorRT skips a cache whose header does not match its
own. Each further line is one tensor of the network: its name and its scale (amax / 127) as the eight hex
digits of the big-endian IEEE float32. The ONNX parser names TensorRT's tensors after the ONNX tensors, so
the names are the fp32 graph's.
"""
from __future__ import annotations

import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.fileio import atomic_write_text

CACHE_DIR = "calibration"
DEFAULT_TRT_VERSION = "8.6.2"  # JetPack 6.0; JetPack 5.1 ships 8.5.2
# Our method → the TensorRT calibrator whose cache it stands in for. TensorRT has no percentile calibrator;
# such caches are read back through the entropy calibrator, which only reads the scales.
ALGORITHMS = {"entropy": "EntropyCalibration2", "minmax": "MinMaxCalibration", "percentile": "EntropyCalibration2"}
_HEADER = re.compile(r"^TRT-(\d+)-([A-Za-z0-9]+)$")


def cache_path(folder: str | os.PathLike, graph: str) -> Path:
    return Path(folder) / CACHE_DIR / f"{graph}.cache"


def trt_version_tag(version: str) -> int:
    """"8.6.2" → 8602, "10.3.0" → 100300: the number TensorRT writes into the header."""
    parts = version.strip().split(".")
    try:
        numbers = [int(p) for p in parts[:3]] + [0] * (3 - len(parts[:3]))
    except ValueError:
        raise AmmaEdgeError(f"TensorRT version {version!r} is not MAJOR.MINOR.PATCH, e.g. 8.6.2") from None
    major, minor, patch = numbers
    if major < 5:
        raise AmmaEdgeError(f"TensorRT version {version!r} is too old for INT8 calibration caches (5 or newer)")
    return major * 10000 + minor * 100 + patch if major >= 10 else major * 1000 + minor * 100 + patch


def scale_hex(scale: float) -> str:
    return struct.pack(">f", float(np.float32(scale))).hex()


def hex_scale(text: str) -> np.float32:
    return np.float32(struct.unpack(">f", bytes.fromhex(text.zfill(8)))[0])


@dataclass(frozen=True)
class CalibrationCache:
    """Scales per tensor, plus the header's version number and algorithm name."""

    version: int
    algorithm: str
    scales: dict[str, np.float32] = field(default_factory=dict)

    @property
    def header(self) -> str:
        return f"TRT-{self.version}-{self.algorithm}"

    def to_text(self) -> str:
        lines = [self.header]
        for name, scale in self.scales.items():
            if any(c in name for c in "\r\n") or not name:
                raise AmmaEdgeError(f"tensor name {name!r} cannot be stored in a TensorRT calibration cache")
            lines.append(f"{name}: {scale_hex(scale)}")
        return "\n".join(lines) + "\n"

    def retarget(self, version: str | int) -> CalibrationCache:
        """The same scales under another TensorRT version's header."""
        tag = version if isinstance(version, int) else trt_version_tag(version)
        return CalibrationCache(tag, self.algorithm, dict(self.scales))

    def amax(self) -> dict[str, float]:
        return {name: float(scale) * 127.0 for name, scale in self.scales.items()}


def make_cache(scales: Mapping[str, float | np.float32], method: str,
               trt_version: str = DEFAULT_TRT_VERSION) -> CalibrationCache:
    if method not in ALGORITHMS:
        raise AmmaEdgeError(f"no TensorRT calibration algorithm for method {method!r}")
    return CalibrationCache(trt_version_tag(trt_version), ALGORITHMS[method],
                            {name: np.float32(s) for name, s in scales.items()})


def parse_cache(text: str, source: str = "the calibration cache") -> CalibrationCache:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise AmmaEdgeError(f"{source} is empty: calibrate again with `amma-edge calibrate`")
    match = _HEADER.match(lines[0])
    if match is None:
        raise AmmaEdgeError(f"{source} does not start with a TensorRT header like TRT-8602-EntropyCalibration2 "
                            f"(found {lines[0][:60]!r}): it is not a TensorRT calibration cache")
    scales: dict[str, np.float32] = {}
    for number, line in enumerate(lines[1:], start=2):
        name, sep, value = line.rpartition(": ")
        if not sep or not re.fullmatch(r"[0-9a-fA-F]{1,8}", value):
            raise AmmaEdgeError(f"{source} line {number} is not 'tensor: hexscale' ({line[:60]!r}): the file is "
                                "damaged; calibrate again")
        scales[name] = hex_scale(value)
    return CalibrationCache(int(match.group(1)), match.group(2), scales)


def write_cache(path: str | os.PathLike, cache: CalibrationCache) -> Path:
    return atomic_write_text(path, cache.to_text())  # UTF-8, as TensorRT writes the names it was given


def read_cache(path: str | os.PathLike) -> CalibrationCache:
    path = Path(path)
    if not path.is_file():
        raise AmmaEdgeError(f"calibration cache {path} does not exist: `amma-edge calibrate` writes "
                            f"{CACHE_DIR}/<graph>.cache into its output folder")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise AmmaEdgeError(f"cannot read calibration cache {path} ({exc}): it is not a text cache") from exc
    return parse_cache(text, str(path))


__all__ = [
    "ALGORITHMS",
    "CACHE_DIR",
    "DEFAULT_TRT_VERSION",
    "CalibrationCache",
    "cache_path",
    "hex_scale",
    "make_cache",
    "parse_cache",
    "read_cache",
    "scale_hex",
    "trt_version_tag",
    "write_cache",
]
