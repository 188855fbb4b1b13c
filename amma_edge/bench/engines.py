"""TensorRT engines for the bench, built once per model and precision into a cache folder and reused.

The engines are built by the build stage (`amma_edge.build.builder.build_engines`, imported only here, when
a trt row runs). A cached folder is reused when every streaming graph has its engine, each engine's header
names this precision and the export's checkpoint, it is newer than the ONNX file it was built from, and
(where the header records it) it was built by this TensorRT version; otherwise it is built again.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amma_edge.bench.targets import STREAMING_GRAPHS, NotAvailable
from amma_edge.export.bundle import ModelBundle, graph_file_name, load_bundle


def _tensorrt_version() -> str | None:
    try:
        import tensorrt  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(tensorrt.__version__)


def _recorded_trt_version(header: dict[str, Any]) -> str | None:
    engine = header.get("engine")
    version = engine.get("tensorrt_version") if isinstance(engine, dict) else None
    return str(version) if version else None


def stale_reason(source: ModelBundle, folder: Path, precision: str) -> str | None:
    """Why the engines in `folder` cannot be reused for `source` at `precision`, None when they can."""
    from amma_edge.build.plan import read_plan_header
    from amma_edge.errors import AmmaEdgeError

    graphs = [g for g in STREAMING_GRAPHS if g in source.graphs]
    trt_version = _tensorrt_version()
    for graph in graphs:
        engine = folder / graph_file_name(graph, "engine")
        if not engine.is_file():
            return f"no {engine.name}"
        try:
            header = read_plan_header(engine)
        except AmmaEdgeError as exc:
            return str(exc)
        if header.get("precision") != precision:
            return f"{engine.name} is {header.get('precision')}, not {precision}"
        if header.get("checkpoint_sha256") != source.checkpoint_sha256:
            return f"{engine.name} was built from another checkpoint"
        if engine.stat().st_mtime < source.graphs[graph].stat().st_mtime:
            return f"{source.graphs[graph].name} is newer than {engine.name}"
        recorded = _recorded_trt_version(header)
        if recorded and trt_version and recorded != trt_version:
            return f"{engine.name} was built by TensorRT {recorded}, this is {trt_version}"
    return None


def ensure_engines(source_dir: Path, folder: Path, precision: str, *, rebuild: bool = False,
                   log: Callable[[str], None] | None = None, compiler: Any = None) -> dict[str, Any]:
    """Build (or reuse) the engines of `source_dir` at `precision` in `folder`; what was done, for the report.
    `compiler` is passed to `build_engines` (None: TensorRT's ONNX parser)."""
    try:
        from amma_edge.build.builder import BuildConfig, build_engines
    except ImportError as exc:
        raise NotAvailable(f"the TensorRT build stage (amma_edge.build.builder) is not in this installation ({exc})") \
            from None
    source = load_bundle(source_dir)
    reason = "--rebuild-engines" if rebuild else stale_reason(source, folder, precision)
    if reason is None:
        return {"engines": str(folder), "built": False, "reason": "cached"}
    if log:
        log(f"  building {precision} TensorRT engines of {source_dir} in {folder} ({reason}) …")
    started = time.perf_counter()
    timing_cache = folder.parent / "timing.cache"
    build_engines(source_dir, folder, BuildConfig(precision=precision, timing_cache=timing_cache, force=True),
                  compiler=compiler)
    load_bundle(folder, kind="engine")  # the folder must now hold a consistent set
    return {"engines": str(folder), "built": True, "reason": reason,
            "seconds": round(time.perf_counter() - started, 1)}
