"""TensorRT 10: ONNX graph → serialized engine, through the ONNX parser and the builder.

The only module of `amma_edge.build` that calls TensorRT; it is imported when a build starts, and TensorRT
and cuda-python are imported inside it, so the rest of the package runs and is tested without them.

Precision. An export (fp32 graphs) builds as a weakly typed network: `--precision fp16` sets the FP16 flag
and TensorRT picks fp16 or fp32 per layer; fp32 clears TF32 so that fp32 means fp32. A Q/DQ folder from
`amma-edge calibrate` builds strongly typed by default: its quantize / dequantize nodes fix which tensors
are INT8 (explicit quantization, the path TensorRT keeps; implicit calibration is deprecated in 10). Built
weakly typed (`--weakly-typed`), a Q/DQ graph gets the INT8 and FP16 flags, so the layers between Q/DQ
pairs may run in fp16.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amma_edge.build.compiler import CompiledEngine
from amma_edge.build.options import BuildConfig, ParserProblem, format_parser_errors, profile_shapes
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.metadata import ModelMetadata
from amma_edge.fileio import atomic_write
from amma_edge.runtime.runners.base import import_optional
from amma_edge.runtime.runners.cuda_runtime import cuda_check, cuda_runtime

Log = Callable[[str], None]
INSTALL_HINT = ("on Jetson it comes with JetPack instead (apt install python3-libnvinfer); the build also needs "
                "cuda-python: pip install cuda-python, the release matching your CUDA")
_REPORTED_FLAGS = ("FP16", "BF16", "INT8", "TF32", "GPU_FALLBACK")


def import_tensorrt() -> tuple[Any, Any]:
    """(tensorrt, cuda runtime bindings), or MissingDependencyError saying what to install on the device."""
    trt = import_optional("tensorrt", "tensorrt", "building TensorRT engines", INSTALL_HINT)
    return trt, cuda_runtime("building TensorRT engines")


def device_details(cudart: Any) -> dict[str, Any]:
    """Name, compute capability and integration of the current CUDA device (what the plan is tied to)."""
    device = cuda_check(cudart.cudaGetDevice(), "cudaGetDevice")
    props = cuda_check(cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
    name = props.name
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).split(b"\0", 1)[0].decode("utf-8", "replace")
    return {"index": int(device), "name": str(name), "compute_capability": f"{props.major}.{props.minor}",
            "integrated": bool(props.integrated)}


def _make_logger(trt: Any, log: Log) -> Any:
    """A TensorRT logger that keeps the errors (for the failure message) and shows warnings as they come."""
    severity = trt.ILogger.Severity
    errors = (severity.INTERNAL_ERROR, severity.ERROR)

    class CapturingLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, level: Any, msg: str) -> None:
            if level in errors:
                self.errors.append(" ".join(str(msg).split()))
                log(f"tensorrt error: {msg}")
            elif level == severity.WARNING:
                log(f"tensorrt warning: {msg}")

    return CapturingLogger()


def _parser_problem(error: Any) -> ParserProblem:
    def call(name: str, default: Any) -> Any:
        method = getattr(error, name, None)
        try:
            return method() if callable(method) else default
        except Exception:  # older bindings lack node_name / node_operator
            return default

    return ParserProblem(node=int(call("node", -1)), name=str(call("node_name", "") or ""),
                         operator=str(call("node_operator", "") or ""), code=str(call("code", "")),
                         description=str(call("desc", "")))


class TensorRTCompiler:
    """Builds the graphs of one folder with one builder and, with `timing_cache`, one shared timing cache."""

    name = "tensorrt"

    def __init__(self, config: BuildConfig, log: Log | None = None):
        self.config = config
        self.log: Log = log or (lambda line: None)
        self.trt, cudart = import_tensorrt()
        self.device = device_details(cudart)
        self.logger = _make_logger(self.trt, self.log)
        self.builder = self.trt.Builder(self.logger)
        if self.builder is None:
            raise AmmaEdgeError(f"TensorRT could not create a builder on {self.device['name']}: "
                                + ("; ".join(self.logger.errors) or "see its log above"))
        if config.dla_core is not None:
            cores = int(self.builder.num_DLA_cores)
            if config.dla_core >= cores:
                raise AmmaEdgeError(f"--dla {config.dla_core}: this device has {cores} DLA core(s)"
                                    + (f" (use 0..{cores - 1})" if cores else "; build for the GPU without --dla"))
        if config.precision == "fp16" and not self.builder.platform_has_fast_fp16:
            self.log(f"warning: {self.device['name']} has no fast fp16; the fp16 engine may be no faster than fp32")
        self._cache: Any = None
        self._cache_loaded = 0

    # ------------------------------------------------------------------------------------------------ build

    def metadata(self, graph: str, source: ModelMetadata) -> ModelMetadata:
        return source

    def compile(self, graph: str, source: Path, meta: ModelMetadata) -> CompiledEngine:
        trt, config = self.trt, self.config
        strongly_typed = config.strongly_typed_for(meta.precision)
        self.logger.errors.clear()
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strongly_typed else 0
        network = self.builder.create_network(flags)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse_from_file(str(source)):
            problems = [_parser_problem(parser.get_error(i)) for i in range(parser.num_errors)]
            raise AmmaEdgeError(format_parser_errors(source, problems))
        inputs = {}
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            inputs[tensor.name] = tuple(int(d) for d in tensor.shape)

        builder_config = self.builder.create_builder_config()
        builder_config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, config.workspace_bytes)
        self._set_precision(builder_config, strongly_typed)
        if config.dla_core is not None:
            builder_config.default_device_type = trt.DeviceType.DLA
            builder_config.DLA_core = config.dla_core
            builder_config.set_flag(trt.BuilderFlag.GPU_FALLBACK)  # layers the DLA cannot run stay on the GPU
        shapes = profile_shapes(inputs, meta.inputs, config.dynamic_batch, graph)
        if shapes:
            profile = self.builder.create_optimization_profile()
            for name, (low, opt, high) in shapes.items():
                profile.set_shape(name, low, opt, high)
            builder_config.add_optimization_profile(profile)
        cache = self._timing_cache(builder_config)

        self.log(f"building {graph} ({source.name}) with TensorRT {trt.__version__}, {config.precision}"
                 f"{', strongly typed' if strongly_typed else ''} …")
        start = time.perf_counter()
        plan = self.builder.build_serialized_network(network, builder_config)
        seconds = time.perf_counter() - start
        if plan is None:
            reasons = "; ".join(self.logger.errors) or "see the TensorRT log above"
            raise AmmaEdgeError(f"TensorRT could not build the {graph} engine from {source}: {reasons}")
        flags_set = [n for n in _REPORTED_FLAGS
                     if hasattr(trt.BuilderFlag, n) and builder_config.get_flag(getattr(trt.BuilderFlag, n))]
        details: dict[str, Any] = {
            "builder": self.name,
            "tensorrt_version": str(trt.__version__),
            "device": dict(self.device),
            "flags": flags_set,
            "strongly_typed": strongly_typed,
            "build_seconds": round(seconds, 3),
            "profile": {name: [list(s) for s in shape] for name, shape in shapes.items()} or None,
        }
        if cache is not None:
            details["timing_cache"] = {"path": str(config.timing_cache), "loaded_bytes": self._cache_loaded}
        return CompiledEngine(bytes(plan), details)

    def _set_precision(self, builder_config: Any, strongly_typed: bool) -> None:
        trt, precision = self.trt, self.config.precision
        if strongly_typed:
            return  # the network's types decide; precision flags are refused for strongly typed networks
        if precision in ("fp16", "int8"):
            if not hasattr(trt.BuilderFlag, "FP16"):
                raise AmmaEdgeError(f"TensorRT {trt.__version__} has no FP16 builder flag (TensorRT 11 builds only "
                                    "strongly typed networks): build with TensorRT 10 (JetPack 6), or build int8 "
                                    "from a Q/DQ folder")
            builder_config.set_flag(trt.BuilderFlag.FP16)
        if precision == "int8":
            builder_config.set_flag(trt.BuilderFlag.INT8)
        if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
            builder_config.clear_flag(trt.BuilderFlag.TF32)

    def _timing_cache(self, builder_config: Any) -> Any:
        """The build's one timing cache (read from the file on first use), set on `builder_config`."""
        path = self.config.timing_cache
        if path is None:
            return None
        if self._cache is None:
            data = path.read_bytes() if path.is_file() else b""
            self._cache = builder_config.create_timing_cache(data)
            self._cache_loaded = len(data)
            if data and not builder_config.set_timing_cache(self._cache, False):
                self.log(f"warning: {path} was written by another TensorRT version or GPU; starting a new "
                         "timing cache (the file will be replaced)")
                self._cache = builder_config.create_timing_cache(b"")
                self._cache_loaded = 0
        if not builder_config.set_timing_cache(self._cache, False):
            raise AmmaEdgeError(f"TensorRT refused the timing cache {path}: delete it and build again")
        return self._cache

    def finish(self) -> dict[str, Any] | None:
        path = self.config.timing_cache
        if path is None or self._cache is None:
            return None
        data = bytes(self._cache.serialize())
        atomic_write(path, lambda f: f.write(data))
        return {"path": str(path), "loaded_bytes": self._cache_loaded, "saved_bytes": len(data)}

    def close(self) -> None:
        self._cache = None
        self.builder = None
