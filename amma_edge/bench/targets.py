"""Which model, engine and options each (backend, precision) combination runs, or why it cannot run here.

    ort-cpu / ort-cuda  fp32 → the export folder; int8 → its calibrated sibling <DIR>-int8 (or --int8-model)
    trt                 fp32 / fp16 → engines built from the export folder; int8 → engines from <DIR>-int8
    torch               the checkpoint model.json records (or --checkpoint): fp32 on --torch-device, fp16 on CUDA

A combination this machine lacks the means for raises `NotAvailable` with what is missing; a model that is
there but wrong (an INT8 folder of another checkpoint) raises an ordinary `AmmaEdgeError`: the row fails.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from amma_edge.bench.config import BenchConfig
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import ModelBundle, graph_file_name, load_bundle
from amma_edge.fileio import file_sha256
from amma_edge.runtime.runners.model import RunnerOptions

STREAMING_GRAPHS = ("encoder", "head", "astar")


class NotAvailable(AmmaEdgeError):
    """This combination cannot run on this machine; the message says what is missing."""


@dataclass(frozen=True)
class Target:
    backend: str  # the bench's name: ort-cpu, ort-cuda, trt, torch
    precision: str  # fp32, fp16, int8
    runtime: str  # what open_model runs it with: ort, trt, torch
    path: Path  # what open_model opens (for trt: once the engines are built)
    options: RunnerOptions
    device: str  # cpu, cuda
    golden_dir: Path | None  # the folder whose golden/ the graphs are checked against
    build_from: Path | None = None  # trt: the ONNX folder the engines are built from
    autocast_fp16: bool = False  # torch fp16: run under torch.autocast

    def files(self) -> list[Path]:
        """The graph files this combination runs, for the model size."""
        if self.runtime == "torch":
            return [self.path]
        kind = "engine" if self.runtime == "trt" else "onnx"
        return [self.path / graph_file_name(g, kind) for g in STREAMING_GRAPHS
                if (self.path / graph_file_name(g, kind)).is_file()]


def int8_bundle(config: BenchConfig, fp32: ModelBundle) -> ModelBundle:
    folder = config.int8_dir
    if not folder.is_dir():
        raise NotAvailable(f"no INT8 model: run `amma-edge calibrate --model {config.model}` (writes {folder}) or "
                           "pass --int8-model DIR")
    bundle = load_bundle(folder)
    precisions = sorted({m.precision for m in bundle.metadata.values()})
    if precisions != ["int8"]:
        raise AmmaEdgeError(f"{folder} holds {'/'.join(precisions)} graphs, not INT8 ones: calibrate again with "
                            f"`amma-edge calibrate --model {config.model}`")
    if bundle.checkpoint_sha256 != fp32.checkpoint_sha256:
        raise AmmaEdgeError(f"{folder} was calibrated from another checkpoint than {config.model} (sha256 "
                            f"{bundle.checkpoint_sha256[:12]}… against {fp32.checkpoint_sha256[:12]}…): calibrate "
                            "this model again")
    return bundle


def _cuda_provider() -> None:
    from amma_edge.runtime.runners.onnxruntime_runner import available_providers

    if "cuda" not in available_providers():
        raise NotAvailable("onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu; on Jetson the "
                           "wheel from jetson-ai-lab)")


def _ort(config: BenchConfig, backend: str, precision: str, fp32: ModelBundle) -> Target:
    if backend == "ort-cuda":
        _cuda_provider()
    if precision == "fp16":
        if backend == "ort-cpu":
            raise NotAvailable("fp16 needs CUDA: ONNX Runtime on the CPU runs the fp32 or the INT8 model")
        raise NotAvailable("amma-edge exports fp32 ONNX: fp16 runs as a TensorRT engine (--backends trt)")
    folder = int8_bundle(config, fp32).root if precision == "int8" else fp32.root
    providers = ("cuda",) if backend == "ort-cuda" else ("cpu",)
    return Target(backend, precision, "ort", folder, RunnerOptions(threads=config.threads, providers=providers),
                  "cuda" if backend == "ort-cuda" else "cpu", folder)


def _trt(config: BenchConfig, precision: str, fp32: ModelBundle) -> Target:
    if importlib.util.find_spec("tensorrt") is None:
        raise NotAvailable("tensorrt not installed (TensorRT 10: JetPack brings it on Jetson, "
                           "`pip install tensorrt` on other NVIDIA GPUs)")
    if importlib.util.find_spec("cuda") is None:
        raise NotAvailable("cuda-python not installed: pip install cuda-python (the version matching your CUDA)")
    try:
        importlib.import_module("amma_edge.build.builder")
    except ImportError as exc:
        raise NotAvailable(f"the TensorRT build stage (amma_edge.build.builder) is not in this installation ({exc})") \
            from None
    source = int8_bundle(config, fp32).root if precision == "int8" else fp32.root
    if precision == "int8" and config.engine_cache is None:
        engines = source / ".bench-engines" / "int8"
    else:
        engines = config.engine_root / precision
    return Target("trt", precision, "trt", engines, RunnerOptions(), "cuda", source, build_from=source)


def recorded_checkpoint(config: BenchConfig, fp32: ModelBundle) -> Path:
    if config.checkpoint is not None:
        if not config.checkpoint.is_file():
            raise AmmaEdgeError(f"--checkpoint {config.checkpoint} does not exist")
        return config.checkpoint
    recorded = (fp32.manifest or {}).get("checkpoint")
    if not recorded:
        raise NotAvailable(f"{fp32.root}/model.json records no checkpoint: pass --checkpoint PT")
    path = Path(recorded)
    for candidate in (path, fp32.root / path, fp32.root / path.name):
        if candidate.is_file():
            return candidate
    raise NotAvailable(f"the checkpoint {recorded} that {fp32.root}/model.json records is not on this machine: "
                       "pass --checkpoint PT")


def _torch(config: BenchConfig, precision: str, fp32: ModelBundle) -> Target:
    if precision == "int8":
        raise NotAvailable("INT8 runs the calibrated ONNX model (ort-cpu, ort-cuda) or a TensorRT engine (trt), "
                           "not PyTorch")
    device = config.torch_device if precision == "fp32" else "cuda"
    if device == "cuda":
        torch = sys.modules.get("torch") or importlib.import_module("torch")
        if not torch.cuda.is_available():
            raise NotAvailable("fp16 needs CUDA (torch.cuda.is_available() is False)" if precision == "fp16" else
                               "--torch-device cuda needs CUDA (torch.cuda.is_available() is False)")
    checkpoint = recorded_checkpoint(config, fp32)
    if fp32.checkpoint_sha256 and file_sha256(checkpoint) != fp32.checkpoint_sha256:
        raise AmmaEdgeError(f"{checkpoint} is not the checkpoint {fp32.root} was exported from (its sha256 differs): "
                            "pass the right one with --checkpoint")
    return Target("torch", precision, "torch", checkpoint, RunnerOptions(threads=config.threads, device=device),
                  device, fp32.root, autocast_fp16=precision == "fp16")


def resolve_target(config: BenchConfig, backend: str, precision: str, fp32: ModelBundle) -> Target:
    """What (backend, precision) runs; NotAvailable or AmmaEdgeError saying why it cannot."""
    if backend in ("ort-cpu", "ort-cuda"):
        return _ort(config, backend, precision, fp32)
    if backend == "trt":
        return _trt(config, precision, fp32)
    if backend == "torch":
        return _torch(config, precision, fp32)
    raise AmmaEdgeError(f"unknown backend {backend!r}")
