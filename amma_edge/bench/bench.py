"""One benchmark run: every requested (backend, precision) of one model, rows and the JSON document."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amma_edge import __version__
from amma_edge.bench.config import BenchConfig
from amma_edge.bench.machine import describe_machine
from amma_edge.bench.measure import run_combination
from amma_edge.bench.report import build_document
from amma_edge.bench.results import Row
from amma_edge.bench.telemetry import open_sources
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import ModelBundle, load_bundle
from amma_edge.models.config import AMMAConfig

Log = Callable[[str], None]
NOTES = (
    "latency_ms is per clip for AMMA (t frames, one encoder pass with feature caching) and per key frame for A*, "
    "from the pipeline's `total` stage (capture wait to boxes) over the timed steps; warm-up steps are dropped",
    "fps = timed frames / wall time of the timed steps; engine_fps = timed frames / time inside the engine calls",
    "telemetry (peak RSS, device memory, power) covers the whole row, warm-up included",
)


@dataclass
class BenchRun:
    bundle: ModelBundle
    rows: list[Row]
    document: dict[str, Any]


def model_description(bundle: ModelBundle) -> dict[str, Any]:
    c = bundle.config
    shape = {"K": c.K, "t": c.t} if isinstance(c, AMMAConfig) else {"clip_len": getattr(c, "clip_len", None)}
    return {"path": str(bundle.root), "name": c.name, "family": c.family, "checkpoint_sha256": bundle.checkpoint_sha256,
            "classes": list(bundle.class_names), "input_size": list(c.input_size), **shape,
            "graphs": sorted(bundle.graphs)}


def load_eval_dataset(config: BenchConfig, bundle: ModelBundle) -> Any:
    from amma_edge.data.loading import load_dataset

    gt, root = load_dataset(config.data)
    if tuple(gt.labels) != tuple(bundle.class_names):
        raise AmmaEdgeError(f"the model's classes {list(bundle.class_names)} are not those of {config.data} "
                            f"({list(gt.labels)}): pass the dataset it was trained for with --data")
    if not gt.split_videos("test", 0):
        raise AmmaEdgeError(f"{config.data} has no test videos to score")
    return gt, root


def settings_of(config: BenchConfig) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def run_bench(config: BenchConfig, log: Log | None = None) -> BenchRun:
    say = log or (lambda line: None)
    bundle = load_bundle(config.model)
    if not bundle.streaming:
        raise AmmaEdgeError(f"{config.model} holds no streaming graphs (encoder + head, or model.onnx for A*): "
                            "export the model again with `amma-edge export`")
    dataset = load_eval_dataset(config, bundle) if config.data is not None else None
    machine = describe_machine()
    sources, telemetry = open_sources(interval_s=config.telemetry_interval_s)
    rows: list[Row] = []
    try:
        facts = {s.name: s.describe() for s in sources}
        for backend, precision in config.combinations:
            say(f"{backend} {precision} …")
            row = run_combination(config, backend, precision, bundle, sources, dataset, say)
            rows.append(row)
            say(f"  {row.status}" + (f": {row.fps:.1f} FPS" if row.ok and row.fps else ""))
    finally:
        for source in sources:
            source.close()
    document = build_document(model=model_description(bundle), settings=settings_of(config), machine=machine,
                              telemetry={"sources": telemetry, "facts": facts}, rows=rows,
                              created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), version=__version__, notes=NOTES)
    return BenchRun(bundle, rows, document)
