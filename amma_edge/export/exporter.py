"""The export stage: a training checkpoint → a folder of checked, simplified, parity-tested ONNX graphs with
their metadata, golden files and model.json.

Everything is written into a temporary folder beside OUT and renamed to OUT only when every graph passed
its checks, so a failed or interrupted export leaves no half-written folder, and an existing OUT is replaced
(with --force) only by a complete export.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from amma_edge import __version__
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import MODEL_JSON
from amma_edge.export.golden import Golden, golden_path, save_golden
from amma_edge.export.graph_modules import graph_module, run_graph
from amma_edge.export.graphs import GraphSpec, graph_names, graph_spec
from amma_edge.export.metadata import METADATA_FORMAT, METADATA_KEY, ModelMetadata, write_metadata
from amma_edge.export.onnx_export import DEFAULT_OPSET, EXPORTER, check_onnx, export_onnx, random_feed
from amma_edge.export.parity import (
    PARITY_RTOL,
    RELATIVE_ERROR,
    GraphParity,
    format_parity,
    ort_session,
    output_errors,
    require_parity,
    run_session,
)
from amma_edge.export.samples import DEFAULT_DATA_SAMPLES, ClipSample, batched, dataset_samples
from amma_edge.export.simplify import SimplifyResult, simplify_onnx
from amma_edge.fileio import atomic_write_text, commit_directory, file_sha256
from amma_edge.models.config import AMMAConfig, ModelConfig, config_to_dict

RANDOM_SAMPLES = 2
GOLDEN_SEED = 0  # the seeded random golden input is the one the graph was traced with

Log = Callable[[str], None]


@dataclass(frozen=True)
class ExportOptions:
    opset: int = DEFAULT_OPSET
    batch: int = 1
    fused: bool = False  # AMMA: also the K-clip graph
    simplify: bool = True
    data: Path | None = None  # dataset for real-clip parity and golden inputs
    data_samples: int = DEFAULT_DATA_SAMPLES
    random_samples: int = RANDOM_SAMPLES
    force: bool = False  # replace a non-empty OUT
    rtol: float = PARITY_RTOL


@dataclass(frozen=True)
class GraphExport:
    spec: GraphSpec
    file: str
    size: int  # bytes
    simplify: SimplifyResult
    parity: GraphParity
    seconds: float

    def summary(self) -> str:
        shapes = lambda d: ", ".join(f"{k} {tuple(v)}" for k, v in d.items())  # noqa: E731
        return (f"{self.file}: {shapes(self.spec.inputs)} → {shapes(self.spec.outputs)}; {self.size / 1e6:.2f} MB, "
                f"{self.simplify.describe()}, {self.seconds:.1f} s")


@dataclass
class ExportResult:
    out: Path
    graphs: list[GraphExport]
    manifest: dict[str, Any]
    seconds: float
    warnings: list[str] = field(default_factory=list)

    @property
    def parity(self) -> list[GraphParity]:
        return [g.parity for g in self.graphs]


def graph_metadata(config: ModelConfig, class_names: tuple[str, ...], spec: GraphSpec, *, opset: int,
                   checkpoint_sha256: str, precision: str = "fp32") -> ModelMetadata:
    """The metadata of one graph of an export (also what an engine built without ONNX carries)."""
    return ModelMetadata(graph=spec.name, model_config=config, class_names=tuple(class_names),
                         inputs=dict(spec.inputs), outputs=dict(spec.outputs), output_layout=dict(spec.output_layout),
                         opset=opset, precision=precision, checkpoint_sha256=checkpoint_sha256,
                         amma_edge_version=__version__)


def checkpoint_class_names(state: dict[str, Any], config: ModelConfig, source: str) -> tuple[str, ...]:
    names = tuple(str(n) for n in (state.get("class_names") or ()))
    if not names:
        return tuple(f"class_{i}" for i in range(config.num_classes))
    if len(names) != config.num_classes:
        raise AmmaEdgeError(f"{source} names {len(names)} classes for a model with {config.num_classes}: the "
                            "checkpoint is damaged")
    return names


def export_model(checkpoint: str | os.PathLike, out: str | os.PathLike, options: ExportOptions | None = None,
                 log: Log | None = None) -> ExportResult:
    """Export the model of `checkpoint` into the folder `out` (see the module docstring); `log` gets progress
    lines, warnings (prefixed "warning: ") and the parity table."""
    from amma_edge.train.checkpoint import checkpoint_model_config, load_model

    options = options or ExportOptions()
    say: Log = log or (lambda line: None)
    checkpoint, out = Path(checkpoint), Path(out)
    _check_destination(out, checkpoint, options)
    start = time.perf_counter()
    model, state = load_model(checkpoint)
    config = checkpoint_model_config(state)
    class_names = checkpoint_class_names(state, config, str(checkpoint))
    sha = file_sha256(checkpoint)
    warnings: list[str] = []

    def warn(text: str) -> None:
        warnings.append(text)
        say(f"warning: {text}")

    if options.fused and not isinstance(config, AMMAConfig):
        warn("--fused applies to AMMA (encoder + head); A* is exported as its one graph, model.onnx")
    names = graph_names(config, options.fused)
    specs = {g: graph_spec(config, g, options.batch) for g in names}
    modules = {g: graph_module(model, g) for g in names}
    samples = dataset_samples(config, options.data, options.data_samples) if options.data else []
    data_feeds = _data_feeds(model, config, samples, specs, options.batch)
    if samples:
        say(f"real inputs: {len(samples)} test clip(s) of {options.data} ({', '.join(s.describe() for s in samples)})")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        exports = []
        for graph in names:
            exports.append(_export_graph(graph, specs[graph], modules[graph], config, class_names, sha, options,
                                         data_feeds.get(graph, []), tmp, warn, say))
            if not exports[-1].parity.passed(options.rtol):  # stop at the first graph that disagrees
                say(format_parity([e.parity for e in exports], options.rtol))
                require_parity([exports[-1].parity], options.rtol)
        say(format_parity([e.parity for e in exports], options.rtol))
        manifest = _manifest(config, class_names, checkpoint, sha, options, exports, samples, warnings)
        atomic_write_text(tmp / MODEL_JSON, _json(manifest))
        commit_directory(tmp, out, options.force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, exports, manifest, time.perf_counter() - start, warnings)


def _export_graph(graph: str, spec: GraphSpec, module: torch.nn.Module, config: ModelConfig,
                  class_names: tuple[str, ...], sha: str, options: ExportOptions,
                  data_feeds: list[tuple[dict[str, Any], dict[str, np.ndarray]]], tmp: Path, warn: Log,
                  say: Log) -> GraphExport:
    started = time.perf_counter()
    say(f"exporting {graph} ({spec.file_name}) …")
    traced = export_onnx(module, spec, options.opset)
    if options.simplify:
        simplified = simplify_onnx(traced, graph)
        if not simplified.simplified:
            warn(f"{graph}: keeping the unsimplified graph: {simplified.reason}")
    else:
        n = len(traced.graph.node)
        simplified = SimplifyResult(traced, False, n, n, "--no-simplify")
    final = simplified.model
    check_onnx(final, spec)
    write_metadata(final, graph_metadata(config, class_names, spec, opset=options.opset, checkpoint_sha256=sha))
    data = final.SerializeToString()

    session = ort_session(data)
    parity = GraphParity(graph)
    for seed in range(1, options.random_samples + 1):
        feed = random_feed(spec, seed)
        parity.add("random", output_errors(run_session(session, feed), run_graph(module, spec, feed)))
    for _, feed in data_feeds:
        parity.add("data", output_errors(run_session(session, feed), run_graph(module, spec, feed)))

    if data_feeds:
        source, feed = data_feeds[0]
        source = {"kind": "data", "dataset": str(options.data), **source}
    else:
        feed, source = random_feed(spec, GOLDEN_SEED), {"kind": "random", "seed": GOLDEN_SEED,
                                                         "distribution": "standard normal"}
    source.update(reference="pytorch", torch_version=str(torch.__version__))
    save_golden(golden_path(tmp, graph), Golden(graph, feed, run_graph(module, spec, feed), source))
    (tmp / spec.file_name).write_bytes(data)
    return GraphExport(spec, spec.file_name, len(data), simplified, parity, time.perf_counter() - started)


def _data_feeds(model: torch.nn.Module, config: ModelConfig, samples: list[ClipSample], specs: dict[str, GraphSpec],
                batch: int) -> dict[str, list[tuple[dict[str, Any], dict[str, np.ndarray]]]]:
    """Per graph: (description, feed) pairs from the dataset clips. The head is fed the PyTorch encoder's
    features of the K consecutive clips of each sample, as the feature cache would hold them."""
    if not samples:
        return {}
    items: dict[str, list[tuple[dict[str, Any], np.ndarray]]] = {}
    where = lambda s: {"video": s.video, "key_frame": s.key_frame}  # noqa: E731
    if isinstance(config, AMMAConfig):
        items["encoder"] = [({**where(s), "clip": k + 1}, clip) for s in samples for k, clip in enumerate(s.frames)]
        with torch.no_grad():
            features = [model.encode(torch.from_numpy(s.frames)).numpy() for s in samples]
        items["head"] = [(where(s), f) for s, f in zip(samples, features)]
        items["fused"] = [(where(s), s.frames) for s in samples]
    else:
        items["astar"] = [(where(s), s.frames) for s in samples]
    feeds = {}
    for graph, spec in specs.items():
        described = items[graph]
        arrays = batched([a for _, a in described], batch)
        feeds[graph] = [(desc, {spec.input_name: np.ascontiguousarray(a, dtype=np.float32)})
                        for (desc, _), a in zip(described, arrays)]
    return feeds


def _manifest(config: ModelConfig, class_names: tuple[str, ...], checkpoint: Path, sha: str, options: ExportOptions,
              exports: list[GraphExport], samples: list[ClipSample], warnings: list[str]) -> dict[str, Any]:
    import onnx
    import onnxruntime

    try:
        import onnxsim

        onnxsim_version = str(getattr(onnxsim, "__version__", "unknown"))
    except ImportError:
        onnxsim_version = None
    graphs = {}
    for e in exports:
        graphs[e.spec.name] = {
            "file": e.file,
            "golden": f"{golden_path('', e.spec.name).as_posix()}",
            "inputs": {k: list(v) for k, v in e.spec.inputs.items()},
            "outputs": {k: list(v) for k, v in e.spec.outputs.items()},
            "output_layout": dict(e.spec.output_layout),
            "bytes": e.size,
            "simplified": e.simplify.simplified,
            "simplify_note": e.simplify.reason,
            "nodes": e.simplify.nodes_after,
            "parity": e.parity.as_dict(),
        }
    files = [g["file"] for g in graphs.values()] + [g["golden"] for g in graphs.values()] + [MODEL_JSON]
    return {
        "format": METADATA_FORMAT,
        "metadata_key": METADATA_KEY,
        "family": config.family,
        "model_config": config_to_dict(config),
        "class_names": list(class_names),
        "opset": options.opset,
        "precision": "fp32",
        "batch": options.batch,
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha,
        "amma_edge_version": __version__,
        "exporter": EXPORTER,
        "versions": {"torch": str(torch.__version__), "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                     "onnxsim": onnxsim_version},
        "parity": {"rtol": options.rtol, "relative_error": RELATIVE_ERROR,
                   "data": str(options.data) if options.data else None,
                   "data_clips": [{"video": s.video, "key_frame": s.key_frame} for s in samples]},
        "graphs": graphs,
        "files": files,
        "warnings": list(warnings),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _check_destination(out: Path, checkpoint: Path, options: ExportOptions) -> None:
    if out.exists() and not out.is_dir():
        raise AmmaEdgeError(f"--out {out} is a file: pass a folder (it will hold encoder.onnx, head.onnx, …)")
    if out.is_dir() and any(out.iterdir()):
        if not options.force:
            shown = ", ".join(sorted(p.name for p in out.iterdir())[:4])
            raise AmmaEdgeError(f"--out {out} is not empty ({shown}…): pass --force to replace it with the new export, "
                                "or choose another folder")
        resolved = out.resolve()
        for what, path in (("checkpoint", checkpoint), ("dataset", options.data)):
            if path is not None and path.resolve().is_relative_to(resolved):
                raise AmmaEdgeError(f"the {what} {path} lies inside --out {out}, which --force would delete: choose "
                                    "another --out")
    if options.batch < 1:
        raise AmmaEdgeError(f"--batch must be at least 1, got {options.batch}")
