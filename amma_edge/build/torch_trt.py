"""`--via torch-tensorrt`: engines compiled from the training checkpoint by Torch-TensorRT, without ONNX.

The same graph modules the exporter traces (`amma_edge.export.graph_modules`) go through
`torch_tensorrt.dynamo.trace` and `convert_exported_program_to_serialized_trt_engine`, and the serialized
engine lands in the same engine file, with the metadata an export of that checkpoint has
(`amma_edge.export.exporter.graph_metadata`). It is the fallback for graphs TensorRT's ONNX parser refuses.

The runtime binds tensors by name, and Torch-TensorRT names outputs output0, output1, … unless the converter
takes `output_binding_names` (newer releases); the names of every engine are checked after conversion, so
an engine the runtime could not bind is never written. Torch, Torch-TensorRT and TensorRT are imported inside
functions only.
"""
from __future__ import annotations

import inspect
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from amma_edge.build.compiler import CompiledEngine
from amma_edge.build.options import BuildConfig, profile_shapes
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.metadata import ModelMetadata
from amma_edge.fileio import file_sha256

Log = Callable[[str], None]
INSTALL_HINT = ("the Torch-TensorRT wheel matching your torch and TensorRT; on Jetson, NVIDIA's Jetson wheels; "
                "or build from the ONNX graphs with --via trt")


def resolve_checkpoint(explicit: Path | None, manifest: Mapping[str, Any] | None, model_dir: Path,
                       checkpoint_sha256: str) -> Path:
    """The training checkpoint the folder was exported from: `explicit`, else the one model.json records
    (as written, or relative to the folder). It must be the very file the graphs came from (SHA-256), or the
    engines would carry metadata of another model."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise AmmaEdgeError(f"--checkpoint {path} does not exist: pass the .pt file {model_dir} was exported from")
    else:
        recorded = (manifest or {}).get("checkpoint")
        if not recorded:
            raise AmmaEdgeError(f"{model_dir} records no training checkpoint (no model.json with 'checkpoint'): "
                                "pass --checkpoint PT")
        candidates = [Path(recorded), model_dir / recorded, model_dir / Path(recorded).name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise AmmaEdgeError(f"the checkpoint {recorded} that {model_dir}/model.json records is not there: pass "
                                "--checkpoint PT")
    sha = file_sha256(path)
    if sha != checkpoint_sha256:
        raise AmmaEdgeError(f"{path} is not the checkpoint {model_dir} was exported from (sha256 {sha[:12]}…, the "
                            f"graphs say {checkpoint_sha256[:12]}…): pass that checkpoint, or export this one first")
    return path


def binding_names(names: tuple[str, ...]) -> str | tuple[str, ...]:
    """Names shaped like the graph module's return value: a tensor for one output, a tuple for several."""
    return names[0] if len(names) == 1 else tuple(names)


def check_engine_names(graph: str, found: Mapping[str, str], inputs: tuple[str, ...], outputs: tuple[str, ...],
                       version: str) -> None:
    """`found` maps each engine tensor name to "input" / "output"; they must be the graph contract's."""
    wanted = {**{n: "input" for n in inputs}, **{n: "output" for n in outputs}}
    if dict(found) != wanted:
        raise AmmaEdgeError(f"Torch-TensorRT {version} named the {graph} engine's tensors "
                            f"{', '.join(f'{n} ({m})' for n, m in found.items())}, but the runtime binds "
                            f"{', '.join(f'{n} ({m})' for n, m in wanted.items())}: use a Torch-TensorRT whose "
                            "converter takes output_binding_names, or build with --via trt")


class TorchTensorRTCompiler:
    name = "torch-tensorrt"

    def __init__(self, config: BuildConfig, checkpoint: Path, checkpoint_sha256: str, class_names: tuple[str, ...],
                 log: Log | None = None):
        from amma_edge.runtime.runners.base import import_optional

        self.config = config
        self.log: Log = log or (lambda line: None)
        self.torch_tensorrt = import_optional("torch_tensorrt", "torch-tensorrt", "--via torch-tensorrt",
                                              INSTALL_HINT)
        self.trt = import_optional("tensorrt", "tensorrt", "--via torch-tensorrt", INSTALL_HINT)
        import torch

        if not torch.cuda.is_available():
            raise AmmaEdgeError("--via torch-tensorrt compiles on a CUDA GPU and torch sees none: build on the "
                                "device, or use --via trt")
        from amma_edge.export.exporter import checkpoint_class_names
        from amma_edge.train.checkpoint import checkpoint_model_config, load_model

        self.torch = torch
        self.model, state = load_model(checkpoint, map_location="cuda")
        self.model_config = checkpoint_model_config(state)
        self.class_names = checkpoint_class_names(state, self.model_config, str(checkpoint))
        if self.class_names != tuple(class_names):
            raise AmmaEdgeError(f"{checkpoint} names its classes differently from the graphs it was exported to: "
                                "export it again")
        self.checkpoint, self.checkpoint_sha256 = checkpoint, checkpoint_sha256
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        self.device = {"index": int(torch.cuda.current_device()), "name": str(props.name),
                       "compute_capability": f"{props.major}.{props.minor}",
                       "integrated": bool(getattr(props, "is_integrated", False))}
        self._cache_tmp: Path | None = None
        self._cache_loaded = 0
        if config.timing_cache is not None:  # Torch-TensorRT writes the cache itself: let it write a copy
            target = config.timing_cache
            target.parent.mkdir(parents=True, exist_ok=True)
            self._cache_tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
            if target.is_file():
                shutil.copyfile(target, self._cache_tmp)
                self._cache_loaded = target.stat().st_size

    def metadata(self, graph: str, source: ModelMetadata) -> ModelMetadata:
        from amma_edge.export.exporter import graph_metadata
        from amma_edge.export.graphs import graph_spec

        batch = next(iter(source.inputs.values()))[0]
        meta = graph_metadata(self.model_config, self.class_names, graph_spec(self.model_config, graph, batch),
                              opset=source.opset, checkpoint_sha256=self.checkpoint_sha256)
        if meta.model_config != source.model_config or meta.inputs != source.inputs or \
                meta.outputs != source.outputs:
            raise AmmaEdgeError(f"the checkpoint's {graph} graph differs from the folder's ({source.inputs} → "
                                f"{source.outputs}): export the checkpoint again")
        return meta

    def compile(self, graph: str, source: Path, meta: ModelMetadata) -> CompiledEngine:
        from amma_edge.export.graph_modules import graph_module

        torch, tt, config = self.torch, self.torch_tensorrt, self.config
        name, shape = next(iter(meta.inputs.items()))
        declared = {name: tuple(shape)}
        network = {name: (-1, *shape[1:]) if config.dynamic_batch else tuple(shape)}
        shapes = profile_shapes(network, declared, config.dynamic_batch, graph)
        if shapes:
            low, opt, high = shapes[name]
            spec = tt.Input(min_shape=low, opt_shape=opt, max_shape=high, dtype=torch.float32)
        else:
            spec = tt.Input(tuple(shape), dtype=torch.float32)
        module = graph_module(self.model, graph).cuda()
        convert = tt.dynamo.convert_exported_program_to_serialized_trt_engine
        strongly_typed = config.strongly_typed_for(meta.precision)
        settings: dict[str, Any] = {
            "arg_inputs": (spec,),
            "enabled_precisions": {torch.float16} if config.precision == "fp16" else {torch.float32},
            "workspace_size": config.workspace_bytes,
            "disable_tf32": config.precision == "fp32",
            "use_explicit_typing": strongly_typed,
            "require_full_compilation": True,
            "min_block_size": 1,
        }
        if self._cache_tmp is not None:
            settings["timing_cache_path"] = str(self._cache_tmp)
        if config.dla_core is not None:
            settings["device"] = tt.Device(f"dla:{config.dla_core}", allow_gpu_fallback=True)
        if "output_binding_names" in inspect.signature(convert).parameters:
            settings["output_binding_names"] = binding_names(tuple(meta.outputs))
        self.log(f"compiling {graph} with Torch-TensorRT {tt.__version__}, {config.precision} …")
        start = time.perf_counter()
        try:
            with torch.no_grad():
                exported = tt.dynamo.trace(module, arg_inputs=(spec,))
                plan = convert(exported, **settings)
        except AmmaEdgeError:
            raise
        except Exception as exc:  # Torch-TensorRT raises whatever its converters raise
            raise AmmaEdgeError(f"Torch-TensorRT could not compile the {graph} graph ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:400]}): build from ONNX with --via trt") from exc
        seconds = time.perf_counter() - start
        if not plan:
            raise AmmaEdgeError(f"Torch-TensorRT returned no engine for the {graph} graph (see its log above): "
                                "build from ONNX with --via trt")
        plan = bytes(plan)
        check_engine_names(graph, self._engine_names(plan), tuple(meta.inputs), tuple(meta.outputs),
                           str(tt.__version__))
        flags = (["FP16"] if config.precision == "fp16" else []) + (["GPU_FALLBACK"] if config.dla_core is not None
                                                                   else [])
        details: dict[str, Any] = {
            "builder": self.name,
            "tensorrt_version": str(self.trt.__version__),
            "torch_tensorrt_version": str(tt.__version__),
            "torch_version": str(torch.__version__),
            "device": dict(self.device),
            "flags": flags,
            "strongly_typed": strongly_typed,
            "build_seconds": round(seconds, 3),
            "profile": {n: [list(s) for s in v] for n, v in shapes.items()} or None,
            "source": self.checkpoint.name,  # not the ONNX graph: the engine was compiled from the checkpoint
            "source_sha256": self.checkpoint_sha256,
        }
        if self._cache_tmp is not None:
            details["timing_cache"] = {"path": str(config.timing_cache), "loaded_bytes": self._cache_loaded}
        return CompiledEngine(plan, details)

    def _engine_names(self, plan: bytes) -> dict[str, str]:
        trt = self.trt
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(plan)
        if engine is None:
            raise AmmaEdgeError("TensorRT could not read back the engine Torch-TensorRT built: its TensorRT and "
                                "this one differ; install matching versions")
        names = {}
        for i in range(engine.num_io_tensors):
            tensor = engine.get_tensor_name(i)
            names[tensor] = "input" if engine.get_tensor_mode(tensor) == trt.TensorIOMode.INPUT else "output"
        return names

    def finish(self) -> dict[str, Any] | None:
        if self._cache_tmp is None or not self._cache_tmp.is_file():
            return None
        target = self.config.timing_cache
        assert target is not None
        saved = self._cache_tmp.stat().st_size
        os.replace(self._cache_tmp, target)
        self._cache_tmp = None
        return {"path": str(target), "loaded_bytes": self._cache_loaded, "saved_bytes": saved}

    def close(self) -> None:
        if self._cache_tmp is not None and self._cache_tmp.exists():
            self._cache_tmp.unlink()
        self._cache_tmp = None
