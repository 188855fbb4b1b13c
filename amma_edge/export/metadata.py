"""The metadata every exported graph and built engine carries, so that a model file alone is enough to run.

It is one JSON object (`ModelMetadata.to_json`): which graph the file holds, the full model configuration
(classes, K, t, input size, normalisation), the class names, the tensor names and shapes, what each output
means, the ONNX opset, the numeric precision, the SHA-256 of the training checkpoint it came from and the
amma-edge version that wrote it. ONNX files keep it in `metadata_props` under the key "amma_edge"; engines in
the header of their plan file (`amma_edge.build.plan`).

Reading it needs neither the `onnx` package nor onnxruntime: `read_metadata(path)` walks the top level of the
ONNX protobuf and skips the (large) graph without parsing it, so the device runtime can check a folder of
models before loading any. `read_metadata_ort(session)` reads it from an open onnxruntime session.
"""
from __future__ import annotations

import dataclasses
import json
import mmap
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig, config_from_dict, config_to_dict

METADATA_KEY = "amma_edge"
METADATA_FORMAT = 1
GRAPHS = ("encoder", "head", "fused", "astar")
PRECISIONS = ("fp32", "fp16", "int8")

# ONNX ModelProto field numbers (onnx/onnx.proto): metadata_props is `repeated StringStringEntryProto = 14`,
# and an entry is {key = 1, value = 2}.
_MODEL_METADATA_PROPS = 14
_ENTRY_KEY, _ENTRY_VALUE = 1, 2


def reexport_hint(source: str) -> str:
    return (f"{source} carries no amma-edge metadata, so it was not exported by amma-edge (or a tool re-saved it "
            "and dropped its metadata_props): export it again with "
            "`amma-edge export --model CHECKPOINT.pt --out DIR`")


@dataclass(frozen=True)
class ModelMetadata:
    """What a graph or engine file says about itself; `model_config` is an AMMAConfig or AStarConfig."""

    graph: str
    model_config: ModelConfig
    class_names: tuple[str, ...]
    inputs: dict[str, tuple[int, ...]]
    outputs: dict[str, tuple[int, ...]]
    output_layout: dict[str, str]
    opset: int
    precision: str
    checkpoint_sha256: str
    amma_edge_version: str

    @property
    def family(self) -> str:
        return self.model_config.family

    def replace(self, **changes: Any) -> ModelMetadata:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": METADATA_FORMAT,
            "graph": self.graph,
            "model_config": config_to_dict(self.model_config),
            "class_names": list(self.class_names),
            "inputs": {k: list(v) for k, v in self.inputs.items()},
            "outputs": {k: list(v) for k, v in self.outputs.items()},
            "output_layout": dict(self.output_layout),
            "opset": self.opset,
            "precision": self.precision,
            "checkpoint_sha256": self.checkpoint_sha256,
            "amma_edge_version": self.amma_edge_version,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())  # key order kept: inputs and outputs are listed in graph order

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "the model") -> ModelMetadata:
        """Validate and convert; keys this version does not know (e.g. an engine header's build details) are
        ignored, a newer `format` is refused."""
        if not isinstance(data, Mapping):
            raise AmmaEdgeError(f"the amma-edge metadata of {source} is not a JSON object: export the model again")
        version = data.get("format", METADATA_FORMAT)
        if not isinstance(version, int) or version > METADATA_FORMAT:
            raise AmmaEdgeError(f"{source} has amma-edge metadata format {version!r}, newer than this amma-edge reads "
                                f"({METADATA_FORMAT}): upgrade amma-edge")
        try:
            graph = str(data["graph"])
            config = config_from_dict(data["model_config"])
            names = tuple(str(n) for n in data["class_names"])
            meta = cls(
                graph=graph,
                model_config=config,
                class_names=names,
                inputs=_shapes(data["inputs"]),
                outputs=_shapes(data["outputs"]),
                output_layout={str(k): str(v) for k, v in (data.get("output_layout") or {}).items()},
                opset=int(data["opset"]),
                precision=str(data["precision"]),
                checkpoint_sha256=str(data["checkpoint_sha256"]),
                amma_edge_version=str(data["amma_edge_version"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise AmmaEdgeError(f"the amma-edge metadata of {source} is unusable ({what}): export the model again") \
                from exc
        meta._validate(source)
        return meta

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "the model") -> ModelMetadata:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AmmaEdgeError(f"the amma-edge metadata of {source} is not valid JSON ({exc}): export the model "
                                "again") from exc
        return cls.from_dict(data, source)

    def _validate(self, source: str) -> None:
        problems = []
        if self.graph not in GRAPHS:
            problems.append(f"unknown graph {self.graph!r} (known: {', '.join(GRAPHS)}); a newer amma-edge wrote it")
        if not isinstance(self.model_config, (AMMAConfig, AStarConfig)):
            problems.append(f"unknown model family {getattr(self.model_config, 'family', '?')!r}")
        elif len(self.class_names) != self.model_config.num_classes:
            problems.append(f"{len(self.class_names)} class names for {self.model_config.num_classes} classes")
        if self.precision not in PRECISIONS:
            problems.append(f"unknown precision {self.precision!r} (known: {', '.join(PRECISIONS)})")
        if not self.inputs or not self.outputs:
            problems.append("no inputs or no outputs listed")
        if problems:
            raise AmmaEdgeError(f"the amma-edge metadata of {source} is inconsistent: {'; '.join(problems)}")


def _shapes(value: Any) -> dict[str, tuple[int, ...]]:
    if not isinstance(value, Mapping):
        raise TypeError(f"tensor shapes must be an object of name: shape, got {type(value).__name__}")
    return {str(name): tuple(int(d) for d in shape) for name, shape in value.items()}


# --------------------------------------------------------------------------------------------------- reading


def read_metadata(source: Any) -> ModelMetadata:
    """The metadata of an ONNX file (path), of its bytes, or of an `onnx.ModelProto`.

    Raises AmmaEdgeError when the file is missing, is not ONNX, or carries no amma-edge metadata.
    """
    if hasattr(source, "metadata_props"):  # an onnx.ModelProto
        text = next((p.value for p in source.metadata_props if p.key == METADATA_KEY), None)
        name = f"ONNX model {getattr(source.graph, 'name', '') or '(in memory)'}"
        if text is None:
            raise AmmaEdgeError(reexport_hint(name))
        return ModelMetadata.from_json(text, name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _metadata_from_text(_scan_onnx_metadata(source, "the ONNX bytes"), "the ONNX bytes")
    path = Path(source)
    if not path.is_file():
        raise AmmaEdgeError(f"ONNX model {path} does not exist: pass a file written by `amma-edge export`")
    text = _read_onnx_metadata_file(path)
    return _metadata_from_text(text, str(path))


def read_metadata_ort(session: Any, source: str | None = None) -> ModelMetadata:
    """The metadata of an open onnxruntime InferenceSession (needs only onnxruntime)."""
    source = source or "the ONNX Runtime session's model"
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    return _metadata_from_text(text, source)


def _metadata_from_text(text: str | None, source: str) -> ModelMetadata:
    if not text:
        raise AmmaEdgeError(reexport_hint(source))
    return ModelMetadata.from_json(text, source)


def write_metadata(model: Any, meta: ModelMetadata) -> None:
    """Store `meta` in an `onnx.ModelProto`'s metadata_props (replacing an earlier amma-edge entry)."""
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    for key, value in kept + [(METADATA_KEY, meta.to_json())]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def _read_onnx_metadata_file(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise AmmaEdgeError(f"{path} is empty, not an ONNX model: export it again")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _scan_onnx_metadata(data, str(path))
    except OSError as exc:
        raise AmmaEdgeError(f"cannot read ONNX model {path}: {exc.strerror or exc}") from exc


# A minimal reader of the protobuf wire format, enough to find ModelProto.metadata_props without the onnx
# package and without touching the bytes of the graph (skipped by its length prefix; with mmap, never read).


class _WireError(ValueError):
    pass


def _varint(buf: Any, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise _WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _WireError("varint longer than 10 bytes")


def _fields(buf: Any, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message; length-delimited values as (start, end) offsets."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _WireError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            value, pos = (pos, pos + length), pos + length
        elif wire == 5:
            value, pos = None, pos + 4
        else:
            raise _WireError(f"unsupported wire type {wire}")
        if pos > end:
            raise _WireError("field runs past the end of the message")
        yield number, wire, value


def _scan_onnx_metadata(buf: Any, source: str) -> str | None:
    """The value of metadata_props["amma_edge"] in serialized ONNX, or None when absent."""
    found = None
    try:
        for number, wire, value in _fields(buf, 0, len(buf)):
            if number != _MODEL_METADATA_PROPS or wire != 2:
                continue
            key = text = None
            for entry_number, entry_wire, span in _fields(buf, *value):
                if entry_wire == 2 and entry_number in (_ENTRY_KEY, _ENTRY_VALUE):
                    decoded = bytes(buf[span[0]:span[1]]).decode("utf-8")
                    key, text = (decoded, text) if entry_number == _ENTRY_KEY else (key, decoded)
            if key == METADATA_KEY:
                found = text or ""
    except (_WireError, UnicodeDecodeError) as exc:
        raise AmmaEdgeError(f"{source} is not an ONNX model (protobuf: {exc}): pass a file written by "
                            "`amma-edge export`") from exc
    return found


__all__ = [
    "GRAPHS",
    "METADATA_FORMAT",
    "METADATA_KEY",
    "PRECISIONS",
    "ModelMetadata",
    "read_metadata",
    "read_metadata_ort",
    "reexport_hint",
    "write_metadata",
]
