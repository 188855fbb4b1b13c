"""The build stage: a model folder (an export, or its INT8 Q/DQ version from `amma-edge calibrate`) → one
TensorRT engine per graph (encoder.engine + head.engine, or model.engine), each an amma-edge plan file
(`amma_edge.build.plan`) whose header is the graph's metadata plus how the engine was built.

Everything a user can get wrong is checked before TensorRT is imported (`options`). Engines are written into
a hidden folder inside OUT, checked as a whole (`load_bundle(kind="engine")`), and only then moved beside
whatever OUT holds, so a failed or interrupted build leaves no engine behind and never replaces good engines
with some of a new build. OUT defaults to the model folder itself, where `open_model(DIR, backend="trt")`
finds the engines next to the ONNX graphs.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amma_edge.build.compiler import EngineCompiler
from amma_edge.build.header import describe_engine, engine_header
from amma_edge.build.options import (
    BuildConfig,
    check_source,
    check_timing_cache,
    folder_precision,
)
from amma_edge.build.plan import write_plan
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import ModelBundle, graph_file_name, load_bundle
from amma_edge.export.golden import GOLDEN_DIR, golden_path
from amma_edge.export.graphs import GRAPH_FILES
from amma_edge.fileio import atomic_write_text, file_sha256

__all__ = ["BUILD_JSON", "BuildConfig", "BuildResult", "EngineBuild", "build_engines", "engine_paths"]

BUILD_JSON = "build.json"
Log = Callable[[str], None]


@dataclass(frozen=True)
class EngineBuild:
    graph: str
    path: Path
    size: int  # bytes of the engine file
    header: dict[str, Any]

    @property
    def seconds(self) -> float:
        return float(self.header.get("engine", {}).get("build_seconds", 0.0))

    def summary(self) -> str:
        return f"{self.path.name}: {self.size / 1e6:.2f} MB, {describe_engine(self.header)}"


@dataclass(frozen=True)
class BuildResult:
    out: Path
    config: BuildConfig
    engines: list[EngineBuild]
    seconds: float
    timing_cache: dict[str, Any] | None  # path, loaded_bytes, saved_bytes when a timing cache was used


def engine_paths(bundle: ModelBundle, out: Path) -> dict[str, Path]:
    """Where the engine of each graph of `bundle` goes in `out`."""
    return {graph: out / graph_file_name(graph, "engine") for graph in bundle.graphs}


def build_engines(model_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                  config: BuildConfig | None = None, *, log: Log | None = None,
                  compiler: EngineCompiler | None = None) -> BuildResult:
    """Build the engines of every graph of `model_dir` into `out_dir` (default: `model_dir`).

    `compiler` replaces the one `config.via` names (TensorRT's ONNX parser, or Torch-TensorRT); it is the seam
    for other compilers and for testing the stage without a GPU. Raises AmmaEdgeError for anything the user
    can fix, MissingDependencyError when TensorRT (or Torch-TensorRT) is not installed.
    """
    config = config or BuildConfig()
    say: Log = log or (lambda line: None)
    model_dir = Path(model_dir)
    out = Path(out_dir) if out_dir is not None else model_dir
    started = time.perf_counter()

    bundle = load_bundle(model_dir)
    source_precision = folder_precision({g: m.precision for g, m in bundle.metadata.items()}, model_dir)
    check_source(source_precision, config, model_dir)
    targets = engine_paths(bundle, out)
    stale = _check_destination(out, targets, config.force)
    check_timing_cache(config.timing_cache)
    checkpoint = None
    if config.via == "torch-tensorrt":
        from amma_edge.build.torch_trt import resolve_checkpoint

        checkpoint = resolve_checkpoint(config.checkpoint, bundle.manifest, model_dir, bundle.checkpoint_sha256)

    if compiler is None:
        compiler = _make_compiler(config, bundle, checkpoint, say)
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".amma-build-", dir=out))
        try:
            built = _build_all(bundle, targets, config, compiler, stage)
            copied = _stage_golden(bundle, model_dir, out, stage)
            timing_cache = compiler.finish()
            load_bundle(stage, kind="engine")  # the new engines belong together, as the runtime will check
            engines = _commit(stage, out, built, copied, stale)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    finally:
        compiler.close()
    seconds = time.perf_counter() - started
    result = BuildResult(out, config, engines, seconds, timing_cache)
    atomic_write_text(out / BUILD_JSON, json.dumps(_build_record(result, model_dir), indent=1) + "\n")
    return result


def _make_compiler(config: BuildConfig, bundle: ModelBundle, checkpoint: Path | None, say: Log) -> EngineCompiler:
    if config.via == "torch-tensorrt":
        from amma_edge.build.torch_trt import TorchTensorRTCompiler

        assert checkpoint is not None
        return TorchTensorRTCompiler(config, checkpoint, bundle.checkpoint_sha256, bundle.class_names, say)
    from amma_edge.build.tensorrt_build import TensorRTCompiler

    return TensorRTCompiler(config, say)


def _check_destination(out: Path, targets: dict[str, Path], force: bool) -> list[Path]:
    """Refuse to overwrite engines without --force; return the engines of other graphs that --force removes
    (left beside the new ones, they would make the folder a mix of two models)."""
    if out.exists() and not out.is_dir():
        raise AmmaEdgeError(f"--out {out} is a file: pass a folder (it will hold "
                            f"{', '.join(p.name for p in targets.values())})")
    present = [out / graph_file_name(g, "engine") for g in GRAPH_FILES if (out / graph_file_name(g, "engine")).exists()]
    if present and not force:
        raise AmmaEdgeError(f"{out} already holds {', '.join(p.name for p in present)}: pass --force to replace "
                            "them, or choose another --out")
    return [p for p in present if p not in targets.values()]


def _build_all(bundle: ModelBundle, targets: dict[str, Path], config: BuildConfig, compiler: EngineCompiler,
               stage: Path) -> list[EngineBuild]:
    built = []
    for graph, target in targets.items():
        source = bundle.path(graph)
        meta = compiler.metadata(graph, bundle.metadata[graph])
        compiled = compiler.compile(graph, source, meta)
        header = engine_header(meta, config, compiled.details, source=source, source_sha256=file_sha256(source))
        path = write_plan(stage / target.name, header, compiled.plan)
        built.append(EngineBuild(graph, target, path.stat().st_size, header))
    return built


def _stage_golden(bundle: ModelBundle, model_dir: Path, out: Path, stage: Path) -> list[str]:
    """Copy the golden files of the built graphs when the engines go to another folder, so the engine folder
    alone can be checked against PyTorch on the device."""
    if out.resolve() == model_dir.resolve():
        return []
    copied = []
    for graph in bundle.graphs:
        source = golden_path(model_dir, graph)
        if source.is_file():
            target = golden_path(stage, graph)
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(target.name)
    return copied


def _commit(stage: Path, out: Path, built: list[EngineBuild], golden: list[str],
            stale: list[Path]) -> list[EngineBuild]:
    for engine in built:
        os.replace(stage / engine.path.name, engine.path)
    if golden:
        (out / GOLDEN_DIR).mkdir(exist_ok=True)
        for name in golden:
            os.replace(stage / GOLDEN_DIR / name, out / GOLDEN_DIR / name)
    for path in stale:
        path.unlink(missing_ok=True)
    return built


def _build_record(result: BuildResult, model_dir: Path) -> dict[str, Any]:
    """build.json: what was built from what, beside the engines (the headers say it per engine too)."""
    config = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
              for k, v in dataclasses.asdict(result.config).items()}
    return {
        "format": 1,
        "model": str(model_dir),
        "config": config,
        "engines": {e.graph: {"file": e.path.name, "bytes": e.size, "precision": e.header.get("precision"),
                              "engine": e.header.get("engine")} for e in result.engines},
        "timing_cache": result.timing_cache,
        "seconds": round(result.seconds, 3),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
