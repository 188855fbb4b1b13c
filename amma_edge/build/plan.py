"""The amma-edge engine file: the model metadata as a JSON header in front of a serialized TensorRT plan.

    b"AMMAPLAN" | header length: uint32 little-endian | header: UTF-8 JSON (the model metadata) | TensorRT plan

A bare TensorRT plan cannot say which classes, K, t or normalisation it was built for, so the runtime refuses
one; with the header an engine file alone is enough to run, like the ONNX files it was built from. This module
needs neither TensorRT nor CUDA: the runtime reads headers on any machine (`load_bundle(kind="engine")`) and
the builder writes them.
"""
from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amma_edge.errors import AmmaEdgeError
from amma_edge.fileio import atomic_write

PLAN_MAGIC = b"AMMAPLAN"
_LENGTH = struct.Struct("<I")
_PREFIX = len(PLAN_MAGIC) + _LENGTH.size
_REBUILD = "build the engine again with `amma-edge build`"


def _header_length(path: Path, prefix: bytes) -> int:
    if len(prefix) < _PREFIX or not prefix.startswith(PLAN_MAGIC):
        raise AmmaEdgeError(f"{path} is not an amma-edge engine (no {PLAN_MAGIC.decode()} header): build it with "
                            "`amma-edge build`, which stores the model metadata beside the TensorRT plan")
    return _LENGTH.unpack_from(prefix, len(PLAN_MAGIC))[0]


def _parse_header(path: Path, text: bytes, length: int) -> dict[str, Any]:
    if len(text) < length:
        raise AmmaEdgeError(f"{path} is truncated (its header claims {length} bytes): {_REBUILD}")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise AmmaEdgeError(f"the header of {path} is not JSON ({exc}): {_REBUILD}") from exc
    if not isinstance(header, dict):
        raise AmmaEdgeError(f"the header of {path} is not a JSON object: {_REBUILD}")
    return header


def read_plan_header(path: str | Path) -> dict[str, Any]:
    """The metadata header of an engine file, reading only the header (engines run to hundreds of MB)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            length = _header_length(path, f.read(_PREFIX))
            return _parse_header(path, f.read(length), length)
    except OSError as exc:
        raise AmmaEdgeError(f"cannot read engine {path}: {exc.strerror or exc}") from exc


def read_plan(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """(header metadata, the serialized TensorRT engine) of an engine file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AmmaEdgeError(f"cannot read engine {path}: {exc.strerror or exc}") from exc
    length = _header_length(path, data[:_PREFIX])
    header = _parse_header(path, data[_PREFIX:_PREFIX + length], length)
    plan = data[_PREFIX + length:]
    if not plan:
        raise AmmaEdgeError(f"{path} holds a header but no TensorRT plan: {_REBUILD}")
    return header, plan


def write_plan(path: str | Path, header: Mapping[str, Any], plan: bytes) -> Path:
    """Write `header` + `plan` in the layout `read_plan` reads, atomically (a failed build leaves no engine)."""
    if not plan:
        raise AmmaEdgeError(f"refusing to write {path}: the TensorRT plan is empty (the build failed)")
    text = json.dumps(dict(header), sort_keys=True).encode("utf-8")
    return atomic_write(path, lambda f: f.write(PLAN_MAGIC + _LENGTH.pack(len(text)) + text + bytes(plan)))
