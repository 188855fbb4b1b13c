"""What a build may be asked for, checked before TensorRT is touched.

Every rule here is one a user can break from the command line, and each is checked on any machine: a wrong
folder, an INT8 build of an unquantized export or a DLA build in fp32 is reported as that, also on a
workstation without TensorRT, instead of as "TensorRT is not installed" or as a builder error minutes into a
build on the device.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from amma_edge.errors import AmmaEdgeError
from amma_edge.export.metadata import PRECISIONS

VIAS = ("trt", "torch-tensorrt")
DEFAULT_WORKSPACE_GIB = 2.0  # Orin Nano shares 8 GB between CPU and GPU; larger models may want more
_CALIBRATE = "run `amma-edge calibrate --model {dir}` first and build from the folder it writes ({dir}-int8)"


@dataclass(frozen=True)
class BuildConfig:
    """How to build the engines of one model folder.

    `strongly_typed` None means automatic: on for Q/DQ (INT8) graphs, whose quantize / dequantize nodes then
    fix every precision (explicit quantization, the path TensorRT keeps), off otherwise so that `precision`
    picks the kernels. `dynamic_batch` (min, opt, max) adds an optimization profile; by default engines
    have the static shapes of the export.
    """

    precision: str = "fp16"
    workspace_gib: float = DEFAULT_WORKSPACE_GIB
    dla_core: int | None = None
    timing_cache: Path | None = None
    dynamic_batch: tuple[int, int, int] | None = None
    strongly_typed: bool | None = None
    via: str = "trt"  # "trt": TensorRT's ONNX parser; "torch-tensorrt": the checkpoint through Torch-TensorRT
    checkpoint: Path | None = None  # --via torch-tensorrt: default the checkpoint recorded in model.json
    force: bool = False  # replace engines already in the output folder

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise AmmaEdgeError(f"unknown precision {self.precision!r}: choose {', '.join(PRECISIONS)}")
        if self.via not in VIAS:
            raise AmmaEdgeError(f"unknown --via {self.via!r}: choose {' or '.join(VIAS)}")
        if not isinstance(self.workspace_gib, (int, float)) or not math.isfinite(self.workspace_gib) \
                or self.workspace_gib <= 0:
            raise AmmaEdgeError(f"--workspace must be a positive number of GiB, got {self.workspace_gib!r}")
        if self.dla_core is not None:
            if isinstance(self.dla_core, bool) or not isinstance(self.dla_core, int) or self.dla_core < 0:
                raise AmmaEdgeError(f"--dla takes a DLA core number (0 or 1 on Orin), got {self.dla_core!r}")
            if self.precision == "fp32":
                raise AmmaEdgeError("the DLA runs fp16 and int8 only: pass --precision fp16 (or int8 from a "
                                    "calibrated folder), or drop --dla to build for the GPU")
        if self.dynamic_batch is not None:
            object.__setattr__(self, "dynamic_batch", _check_batch_range(self.dynamic_batch))
        if self.strongly_typed and self.precision == "fp16":
            raise AmmaEdgeError("--strongly-typed builds every layer in the type the ONNX graph gives it (fp32 for "
                                "an export), so it cannot make an fp16 engine: drop --strongly-typed")
        if self.via == "torch-tensorrt" and self.precision == "int8":
            raise AmmaEdgeError("--via torch-tensorrt builds fp32 and fp16 engines only; INT8 engines come from the "
                                "Q/DQ graphs of `amma-edge calibrate`: build them with --via trt")
        if self.checkpoint is not None and self.via != "torch-tensorrt":
            raise AmmaEdgeError("--checkpoint is read by --via torch-tensorrt only; --via trt builds from the "
                                "ONNX graphs of --model")
        if self.timing_cache is not None:
            object.__setattr__(self, "timing_cache", Path(self.timing_cache))
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", Path(self.checkpoint))

    def strongly_typed_for(self, source_precision: str) -> bool:
        """Whether a graph whose metadata says `source_precision` is built as a strongly typed network."""
        if self.strongly_typed is not None:
            return self.strongly_typed
        return source_precision == "int8"

    @property
    def workspace_bytes(self) -> int:
        return int(self.workspace_gib * (1 << 30))


def _check_batch_range(value: object) -> tuple[int, int, int]:
    try:
        batches = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        batches = ()
    if len(batches) != 3 or not all(isinstance(b, int) and not isinstance(b, bool) for b in batches):
        raise AmmaEdgeError(f"--dynamic-batch takes three batch sizes MIN,OPT,MAX, got {value!r}")
    low, opt, high = batches
    if not 1 <= low <= opt <= high:
        raise AmmaEdgeError(f"--dynamic-batch {low},{opt},{high}: the sizes must satisfy 1 <= MIN <= OPT <= MAX")
    return low, opt, high


def parse_dynamic_batch(text: str | None) -> tuple[int, int, int] | None:
    """"1,4,8" → (1, 4, 8); None stays None."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise AmmaEdgeError(f"--dynamic-batch takes MIN,OPT,MAX batch sizes such as 1,4,8, got {text!r}") from None
    if len(values) != 3:
        raise AmmaEdgeError(f"--dynamic-batch takes three batch sizes MIN,OPT,MAX (such as 1,4,8), got {text!r}")
    return _check_batch_range(values)


def folder_precision(precisions: Mapping[str, str], model_dir: Path) -> str:
    """The one precision the graphs of a folder declare (fp32 for an export, int8 for a calibrated folder)."""
    found = set(precisions.values())
    if len(found) != 1:
        listed = ", ".join(f"{g}: {p}" for g, p in precisions.items())
        raise AmmaEdgeError(f"the graphs of {model_dir} mix precisions ({listed}): export or calibrate the model "
                            "again into one folder")
    return found.pop()


def default_precision(source_precision: str) -> str:
    """What `amma-edge build` builds when --precision is not given: int8 from Q/DQ graphs, else fp16."""
    return "int8" if source_precision == "int8" else "fp16"


def check_source(source_precision: str, config: BuildConfig, model_dir: Path) -> None:
    """Refuse precisions the folder's graphs cannot give: INT8 needs Q/DQ graphs, and Q/DQ graphs build INT8."""
    if config.precision == "int8" and source_precision != "int8":
        raise AmmaEdgeError(f"--precision int8 needs a calibrated Q/DQ model folder, and the graphs of {model_dir} "
                            f"are {source_precision}: " + _CALIBRATE.format(dir=model_dir))
    if source_precision == "int8" and config.precision != "int8":
        plain = model_dir.name[:-len("-int8")] if model_dir.name.endswith("-int8") else None
        where = f" ({model_dir.parent / plain})" if plain else ""
        raise AmmaEdgeError(f"{model_dir} holds INT8 Q/DQ graphs (from `amma-edge calibrate`), which build INT8 "
                            f"engines only: pass --precision int8, or build {config.precision} from the fp32 export "
                            f"folder{where}")
    if source_precision not in ("fp32", "int8"):
        raise AmmaEdgeError(f"the graphs of {model_dir} are {source_precision}; engines are built from fp32 exports "
                            "(`amma-edge export`) or their INT8 Q/DQ versions (`amma-edge calibrate`)")


def check_timing_cache(path: Path | None) -> None:
    if path is None:
        return
    if path.is_dir():
        raise AmmaEdgeError(f"--timing-cache {path} is a folder: pass a file (it is created on the first build)")


def profile_shapes(network_inputs: Mapping[str, tuple[int, ...]], declared: Mapping[str, tuple[int, ...]],
                   dynamic_batch: tuple[int, int, int] | None, graph: str) -> dict[str, tuple[tuple[int, ...], ...]]:
    """(min, opt, max) shapes per input for an optimization profile, or {} when the network is static.

    `network_inputs` are the shapes the parsed network has (-1 for a dynamic axis), `declared` the shapes of
    the graph's metadata. The runtime runs an engine at the declared shapes, so a dynamic axis other than
    the batch is pinned to them, and a batch range must include the declared batch.
    """
    profiles: dict[str, tuple[tuple[int, ...], ...]] = {}
    for name, shape in network_inputs.items():
        shape = tuple(int(d) for d in shape)
        if name not in declared:
            raise AmmaEdgeError(f"the {graph} graph has an input {name!r} its metadata does not list "
                                f"({', '.join(declared)}): export the model again")
        known = tuple(int(d) for d in declared[name])
        if len(known) != len(shape):
            raise AmmaEdgeError(f"the {graph} graph's input {name} has rank {len(shape)}, its metadata says "
                                f"{known}: export the model again")
        if dynamic_batch is None:
            if any(d < 0 for d in shape):
                fixed = tuple(k if d < 0 else d for d, k in zip(shape, known))
                profiles[name] = (fixed, fixed, fixed)
            continue
        if shape[0] >= 0:
            raise AmmaEdgeError(f"--dynamic-batch needs graphs with a dynamic batch axis, and the {graph} graph was "
                                f"exported with the static batch {shape[0]} (amma-edge export writes static "
                                "shapes): build without --dynamic-batch")
        low, opt, high = dynamic_batch
        if not low <= known[0] <= high:
            raise AmmaEdgeError(f"--dynamic-batch {low},{opt},{high} leaves out batch {known[0]}, the batch the "
                                f"{graph} metadata declares and the runtime runs: include it")
        rest = tuple(k if d < 0 else d for d, k in zip(shape[1:], known[1:]))
        profiles[name] = ((low, *rest), (opt, *rest), (high, *rest))
    return profiles


@dataclass(frozen=True)
class ParserProblem:
    """One error of TensorRT's ONNX parser, as plain data (the parser's own object dies with the parser)."""

    node: int  # index of the ONNX node, -1 when the error is not about one node
    name: str = ""
    operator: str = ""
    code: str = ""
    description: str = ""

    def describe(self) -> str:
        where = "graph"
        if self.node >= 0:
            where = f"node {self.node}" + (f" {self.name}" if self.name else "") + \
                    (f" ({self.operator})" if self.operator else "")
        what = f"{self.code}: " if self.code else ""
        return " ".join(f"{where}: {what}{self.description}".split())  # TensorRT's texts may span lines


def format_parser_errors(source: Path, problems: list[ParserProblem]) -> str:
    """One line naming every node TensorRT's ONNX parser refused."""
    if not problems:
        return f"TensorRT's ONNX parser refused {source} without saying why (see its log above)"
    listed = "; ".join(p.describe() for p in problems)
    return (f"TensorRT's ONNX parser refused {len(problems)} node(s) of {source}: {listed}. Export with another "
            "--opset, or update TensorRT")
