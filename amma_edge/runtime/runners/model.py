"""A model as the streaming pipeline needs it: AMMA's encoder and head, or A*'s one detector, on any backend.

`open_model(path)` accepts what users have: an exported directory (encoder.onnx + head.onnx, or model.onnx for
A*; encoder.engine + head.engine for TensorRT), one of those files (its siblings are found), or a training
checkpoint (.pt). The graphs' metadata must agree (same configuration, classes and source checkpoint), so an
encoder from one export never runs with the head of another. The result exposes the callables
`amma_edge.runtime.streaming.TubeletStream` and `frame_stream.FrameWindowStream` take (`encode`, `head`,
`detect`), in NumPy, batch 1.

Note for the lead: once `amma_edge.export.bundle.load_bundle` exists, the directory logic here should use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.models.config import AMMAConfig, AStarConfig, ModelConfig
from amma_edge.runtime.runners.base import Runner, backend_for, runner_class
from amma_edge.runtime.runners.model_info import ModelInfo

# File names of each graph per backend, in order of preference.
_GRAPH_FILES = {
    "ort": {"encoder": ("encoder.onnx",), "head": ("head.onnx",), "astar": ("model.onnx", "astar.onnx")},
    "trt": {"encoder": ("encoder.engine", "encoder.plan"), "head": ("head.engine", "head.plan"),
            "astar": ("model.engine", "model.plan", "astar.engine", "astar.plan")},
}


@dataclass(frozen=True)
class RunnerOptions:
    """Backend settings a user may pick; each backend reads the ones it knows."""

    threads: int | None = None  # ONNX Runtime intra-op threads; torch.set_num_threads for PyTorch
    providers: tuple[str, ...] | None = None  # ONNX Runtime: cpu, cuda, tensorrt
    compile: bool = False  # PyTorch: torch.compile
    device: str = "cpu"  # PyTorch: cpu or cuda


class DeviceModel:
    """Runners for the graphs of one model, active while the model is open (`with open_model(...) as m:`)."""

    def __init__(self, runners: dict[str, Runner], info: ModelInfo, backend: str, source: str):
        self.runners = runners
        self.info = info
        self.backend = backend
        self.source = source

    @property
    def config(self) -> ModelConfig:
        return self.info.config

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def family(self) -> str:
        return self.info.config.family

    @property
    def precision(self) -> str:
        return self.info.precision

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
        return f"{c.name} [{self.family}, {self.precision}, {len(self.class_names)} classes] via {graphs} from {self.source}"


def open_model(path: str | Path, backend: str | None = None, options: RunnerOptions | None = None) -> DeviceModel:
    """Load and activate the model at `path` (directory, graph file or checkpoint) on `backend` (default: by
    the files found)."""
    options = options or RunnerOptions()
    path = Path(path)
    if not path.exists():
        raise AmmaEdgeError(f"model {path} does not exist: pass a folder written by `amma-edge export`, an engine "
                            "built by `amma-edge build`, or a training checkpoint (.pt)")
    if path.is_dir():
        return _open_directory(path, backend, options)
    backend = backend_for(path, backend)
    if backend == "torch":
        return _open_checkpoint(path, options)
    if path.name in {name for files in _GRAPH_FILES.get(backend, {}).values() for name in files} and \
            path.stem in ("encoder", "head"):
        return _open_directory(path.parent, backend, options)
    runner = _make_runner(backend, path, options).activate()
    info = _info(runner)
    if info.graph != "astar":
        runner.deactivate()
        raise AmmaEdgeError(f"{path} is AMMA's {info.graph} graph alone; streaming needs the encoder and the head "
                            f"(feature caching): pass the export folder {path.parent} holding encoder and head")
    return DeviceModel({"astar": runner}, info, backend, str(path))


def _open_directory(folder: Path, backend: str | None, options: RunnerOptions) -> DeviceModel:
    if backend == "torch":
        checkpoints = sorted(folder.glob("*.pt"))
        if len(checkpoints) != 1:
            raise AmmaEdgeError(f"--backend torch runs a checkpoint: pass the .pt file itself (found "
                                f"{len(checkpoints)} in {folder})")
        return _open_checkpoint(checkpoints[0], options)
    candidates = [backend] if backend else ["ort", "trt"]
    for name in candidates:
        files = _GRAPH_FILES.get(name)
        if files is None:
            continue
        found = {graph: next((folder / f for f in names if (folder / f).is_file()), None) for graph, names in files.items()}
        if found["encoder"] and found["head"]:
            return _open_pair(found["encoder"], found["head"], name, options, str(folder))
        if found["astar"]:
            return open_model(found["astar"], name, options)
    wanted = " or ".join(f"{' + '.join(v[0] for v in _GRAPH_FILES[n].values() if v)}" for n in candidates if n in _GRAPH_FILES)
    raise AmmaEdgeError(f"{folder} holds no model: expected encoder + head graphs (or model.* for A*): {wanted}")


def _open_pair(encoder_path: Path, head_path: Path, backend: str, options: RunnerOptions, source: str) -> DeviceModel:
    encoder = _make_runner(backend, encoder_path, options).activate()
    try:
        head = _make_runner(backend, head_path, options).activate()
    except BaseException:
        encoder.deactivate()
        raise
    try:
        info_e, info_h = _info(encoder), _info(head)
        problems = []
        if (info_e.graph, info_h.graph) != ("encoder", "head"):
            problems.append(f"the files hold the {info_e.graph} and {info_h.graph} graphs")
        if info_e.config != info_h.config:
            problems.append("their model configurations differ")
        if info_e.class_names != info_h.class_names:
            problems.append("their class names differ")
        if info_e.checkpoint_sha256 and info_h.checkpoint_sha256 and info_e.checkpoint_sha256 != info_h.checkpoint_sha256:
            problems.append("they come from different checkpoints")
        if problems:
            raise AmmaEdgeError(f"{encoder_path} and {head_path} do not belong together ({'; '.join(problems)}): "
                                "export both from one checkpoint into one folder")
        if not isinstance(info_e.config, AMMAConfig):
            raise AmmaEdgeError(f"{encoder_path}: an encoder/head pair must be an AMMA model")
    except BaseException:
        encoder.deactivate()
        head.deactivate()
        raise
    return DeviceModel({"encoder": encoder, "head": head}, info_e, backend, source)


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
    info = _info(next(iter(runners.values())))
    return DeviceModel(runners, info, "torch", str(path))


def _make_runner(backend: str, path: Path, options: RunnerOptions) -> Runner:
    cls = runner_class(backend)
    if backend == "ort":
        from amma_edge.runtime.runners.onnxruntime_runner import OrtOptions

        return cls(path, OrtOptions(providers=options.providers, intra_op_threads=options.threads))
    if backend == "trt":
        return cls(path)
    raise AmmaEdgeError(f"backend {backend!r} does not run {path}")


def _info(runner: Runner) -> ModelInfo:
    info = getattr(runner, "info", None)
    if info is None:
        raise AmmaEdgeError(f"{runner.source} gave no model metadata")
    return info
