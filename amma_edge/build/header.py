"""The JSON header of an engine file: the graph's model metadata, its precision set to the engine's, and an
"engine" entry saying how, where and from what the engine was built.

A TensorRT plan runs only with the TensorRT version and GPU it was built for, so the header records both: a
user who moves an engine to another device learns from `amma-edge` why it does not load, instead of from a
deserialisation error. Pure functions: no TensorRT here.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amma_edge import __version__
from amma_edge.build.options import BuildConfig
from amma_edge.export.metadata import ModelMetadata

ENGINE_KEY = "engine"
# What a compiler must report about each engine it built (the rest of the entry comes from the BuildConfig).
REQUIRED_DETAILS = ("builder", "tensorrt_version", "device", "flags", "strongly_typed", "build_seconds")


def engine_header(meta: ModelMetadata, config: BuildConfig, details: Mapping[str, Any], *,
                  source: Path | None = None, source_sha256: str | None = None) -> dict[str, Any]:
    """The header `write_plan` stores in front of the plan of one graph.

    `details` are the facts the compiler measured (REQUIRED_DETAILS, plus e.g. the timing cache it used);
    they win over what `config` asked for where both speak.
    """
    missing = [k for k in REQUIRED_DETAILS if k not in details]
    if missing:
        raise ValueError(f"the compiler reported no {', '.join(missing)} for the {meta.graph} engine")
    header = meta.replace(precision=config.precision).to_dict()
    engine: dict[str, Any] = {
        "precision": config.precision,
        "workspace_gib": config.workspace_gib,
        "dla_core": config.dla_core,
        "dynamic_batch": list(config.dynamic_batch) if config.dynamic_batch else None,
        "timing_cache": str(config.timing_cache) if config.timing_cache else None,
        "source": source.name if source is not None else None,
        "source_sha256": source_sha256,
        "source_precision": meta.precision,
        "amma_edge_version": __version__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    engine.update(details)
    header[ENGINE_KEY] = engine
    return header


def describe_engine(header: Mapping[str, Any]) -> str:
    """"fp16, TensorRT 10.3.0 on Orin (sm_87), 41.2 s" for the build log."""
    engine = header.get(ENGINE_KEY) or {}
    device = engine.get("device") or {}
    where = device.get("name") or "an unknown GPU"
    if device.get("compute_capability"):
        where += f" (sm_{str(device['compute_capability']).replace('.', '')})"
    if engine.get("dla_core") is not None:
        where += f", DLA core {engine['dla_core']}"
    seconds = engine.get("build_seconds")
    took = f", {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
    via = " via Torch-TensorRT" if engine.get("builder") == "torch-tensorrt" else ""
    return f"{header.get('precision')}, TensorRT {engine.get('tensorrt_version', '?')}{via} on {where}{took}"
