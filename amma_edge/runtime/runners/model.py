"""A model as the streaming pipeline needs it: AMMA's encoder and head, or A*'s one detector, on any backend.

`open_model(path)` accepts what users have: an exported folder (encoder.onnx + head.onnx, or model.onnx for
A*; encoder.engine + head.engine for TensorRT; an INT8 folder written by `amma-edge calibrate` opens the same
way), one of those files (its siblings are found), or a training checkpoint (.pt). Folders are read by the
export stage's `load_bundle`, which refuses graphs that do not belong together (another checkpoint,
configuration or class names), so an encoder from one export never runs with the head of another. The result
exposes the callables `amma_edge.runtime.streaming.TubeletStream` and `frame_stream.FrameWindowStream` take
(`encode`, `head`, `detect`), in NumPy, batch 1, and the graphs' `ModelMetadata`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import GraphsMetadata, ModelBundle, graph_file_name, load_bundle, read_file_metadata
from amma_edge.export.metadata import ModelMetadata
from amma_edge.models.config import AMMAConfig, AStarConfig
from amma_edge.runtime.runners.base import Runner, backend_for, runner_class

# The model-folder kind (`load_bundle`) each file backend reads, in the order a folder is searched.
BUNDLE_KINDS = {"ort": "onnx", "trt": "engine"}
# The graphs streaming runs: a folder or file that holds one of them is opened as a model.
_STREAMING_GRAPHS = ("encoder", "head", "astar")


@dataclass(frozen=True)
class RunnerOptions:
    """Backend settings a user may pick; each backend reads the ones it knows."""

    threads: int | None = None  # ONNX Runtime intra-op threads; torch.set_num_threads for PyTorch
    providers: tuple[str, ...] | None = None  # ONNX Runtime: cpu, cuda, tensorrt
    compile: bool = False  # PyTorch: torch.compile
    device: str = "cpu"  # PyTorch: cpu or cuda


class DeviceModel(GraphsMetadata):
    """Runners for the graphs of one model, active while the model is open (`with open_model(...) as m:`)."""

    def __init__(self, runners: dict[str, Runner], metadata: dict[str, ModelMetadata], backend: str, source: str):
        self.runners = runners
        self.metadata = metadata  # graph → what its file says (checked to agree when the model was opened)
        self.backend = backend
        self.source = source

    @property
    def precision(self) -> str:
        """The graphs' numeric precision as their metadata says ("int8" for a calibrated folder); when the
        graphs differ, each one's, e.g. "encoder int8, head fp16"."""
        per_graph = {graph: meta.precision for graph, meta in self.metadata.items()}
        if len(set(per_graph.values())) == 1:
            return next(iter(per_graph.values()))
        return ", ".join(f"{graph} {precision}" for graph, precision in per_graph.items())

    def encode(self, clip: np.ndarray) -> np.ndarray:
        """One normalised clip (t, 3, H, W) float32 → its feature (c, h, w), a fresh array."""
        out = self.runners["encoder"].infer({"clip": clip[None]})["feature"][0]
        # The stream encodes twice at the first clip (clip and padding): a runner that reuses its output
        # buffer would overwrite the first feature with the second, so features are always copied out.
        return np.array(out, dtype=np.float32, copy=True)

    def head(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """K features (K, c, h, w), oldest first → center, trajectory, box maps (valid until the next call)."""
        out = self.runners["head"].infer({"features": features[None]})
        return {k: out[k][0] for k in ("center", "trajectory", "box")}

    def detect(self, window: np.ndarray) -> dict[str, np.ndarray]:
        """A*: one window (T, 3, H, W) → box, objectness, classes, embedding of the one sample."""
        out = self.runners["astar"].infer({"clip": window[None]})
        return {k: v[0] for k, v in out.items()}

    def last_ms(self, graph: str) -> float | None:
        runner = self.runners.get(graph)
        return runner.last_inference_ms if runner is not None else None

    def close(self) -> None:
        for runner in self.runners.values():
            runner.deactivate()

    def __enter__(self) -> DeviceModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        c = self.config
        graphs = " + ".join(f"{g} ({type(r).__name__})" for g, r in self.runners.items())
        return (f"{c.name} [{self.family}, {self.precision}, {len(self.class_names)} classes] via {graphs} "
                f"from {self.source}")


def open_model(path: str | Path, backend: str | None = None, options: RunnerOptions | None = None) -> DeviceModel:
    """Load and activate the model at `path` (folder, graph file or checkpoint) on `backend` (default: by the
    files found; a folder holding both ONNX graphs and engines runs the ONNX graphs unless `backend="trt"`)."""
    options = options or RunnerOptions()
    path = Path(path)
    if not path.exists():
        raise AmmaEdgeError(f"model {path} does not exist: pass a folder written by `amma-edge export`, an engine "
                            "built by `amma-edge build`, or a training checkpoint (.pt)")
    if path.is_dir():
        return _open_folder(path, backend, options)
    backend = backend_for(path, backend)
    if backend == "torch":
        return _open_checkpoint(path, options)
    kind = _bundle_kind(backend, path)
    if path.name in {graph_file_name(g, kind) for g in _STREAMING_GRAPHS}:
        return _open_folder(path.parent, backend, options)
    # Another name (e.g. astar_x3d.onnx): the file alone, which only an A* graph can be.
    meta = read_file_metadata(path, kind)
    if meta.graph != "astar":
        raise AmmaEdgeError(f"{path} is AMMA's {meta.graph} graph alone; streaming needs the encoder and the head "
                            f"(feature caching): pass the export folder {path.parent} holding encoder and head")
    runner = _make_runner(backend, path, options).activate()
    return DeviceModel({"astar": runner}, {"astar": meta}, backend, str(path))


def _bundle_kind(backend: str, path: Path) -> str:
    kind = BUNDLE_KINDS.get(backend)
    if kind is None:
        runner_class(backend)  # an unknown name says so
        raise AmmaEdgeError(f"backend {backend!r} does not run {path}: use {' or '.join(BUNDLE_KINDS)} for model "
                            "files, torch for checkpoints")
    return kind


def _open_folder(folder: Path, backend: str | None, options: RunnerOptions) -> DeviceModel:
    if backend == "torch":
        checkpoints = sorted(folder.glob("*.pt"))
        if len(checkpoints) != 1:
            raise AmmaEdgeError(f"--backend torch runs a checkpoint: pass the .pt file itself (found "
                                f"{len(checkpoints)} in {folder})")
        return _open_checkpoint(checkpoints[0], options)
    backends = [backend] if backend else list(BUNDLE_KINDS)
    for name in backends:
        kind = _bundle_kind(name, folder)
        if any((folder / graph_file_name(g, kind)).is_file() for g in _STREAMING_GRAPHS):
            return _open_bundle(load_bundle(folder, kind), name, options)
    wanted = " or ".join(f"{graph_file_name('encoder', k)} + {graph_file_name('head', k)} (AMMA) or "
                         f"{graph_file_name('astar', k)} (A*)" for k in (BUNDLE_KINDS[n] for n in backends))
    raise AmmaEdgeError(f"{folder} holds no model: expected {wanted}, as `amma-edge export` (ONNX) and "
                        "`amma-edge build` (engines) write them")


def _open_bundle(bundle: ModelBundle, backend: str, options: RunnerOptions) -> DeviceModel:
    """Runners for the streaming graphs of a checked folder; a fused graph beside them is not loaded."""
    graphs = ("encoder", "head") if isinstance(bundle.config, AMMAConfig) else ("astar",)
    paths = {graph: bundle.path(graph) for graph in graphs}
    runners: dict[str, Runner] = {}
    try:
        for graph, path in paths.items():
            runners[graph] = _make_runner(backend, path, options).activate()
    except BaseException:
        for runner in runners.values():
            runner.deactivate()
        raise
    return DeviceModel(runners, {graph: bundle.metadata[graph] for graph in graphs}, backend, str(bundle.root))


def _open_checkpoint(path: Path, options: RunnerOptions) -> DeviceModel:
    from amma_edge.runtime.runners.torch_runner import TorchRunner, load_checkpoint_model

    if options.threads:
        import torch

        torch.set_num_threads(options.threads)
    model, config, names = load_checkpoint_model(path, options.device)
    common: dict[str, Any] = {"model": model, "config": config, "class_names": names, "compile": options.compile,
                              "device": options.device}
    if isinstance(config, AMMAConfig):
        runners: dict[str, Runner] = {"encoder": TorchRunner(graph="encoder", **common).activate(),
                                      "head": TorchRunner(graph="head", **common).activate()}
    elif isinstance(config, AStarConfig):
        runners = {"astar": TorchRunner(graph="astar", **common).activate()}
    else:
        raise AmmaEdgeError(f"{path}: no runtime for model family {getattr(config, 'family', '?')!r}")
    return DeviceModel(runners, {graph: runner.metadata for graph, runner in runners.items()}, "torch", str(path))


def _make_runner(backend: str, path: Path, options: RunnerOptions) -> Runner:
    cls = runner_class(backend)
    if backend == "ort":
        from amma_edge.runtime.runners.onnxruntime_runner import OrtOptions

        return cls(path, OrtOptions(providers=options.providers, intra_op_threads=options.threads))
    if backend == "trt":
        return cls(path)
    raise AmmaEdgeError(f"backend {backend!r} does not run {path}")
