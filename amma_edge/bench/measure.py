"""Running one (backend, precision) row: the engines opened, the golden check, the streaming pipeline timed
under telemetry, and (with a dataset) frame-mAP scored through the same engines.

Warm-up and timed clips run through ONE `Pipeline` over one source, so the timed clips are a stream's steady
state (its first clip also encodes the padding clip, and first calls allocate). The figures come from the
pipeline's own per-clip timer (`StageTimer`) with the warm-up clips dropped: per-clip latency is its `total`
stage (capture wait to boxes), end-to-end FPS the timed frames over the sum of those totals, engine FPS the
timed frames over the time inside the engine calls. Telemetry covers the whole run, warm-up included, so
peaks include first-call allocations.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.bench.config import FRAME_SIZE, BenchConfig
from amma_edge.bench.results import FAILED, OK, UNAVAILABLE, Row
from amma_edge.bench.targets import NotAvailable, Target, resolve_target
from amma_edge.bench.telemetry import TelemetrySampler, TelemetrySource
from amma_edge.errors import AmmaEdgeError, MissingDependencyError
from amma_edge.export.bundle import ModelBundle
from amma_edge.models.config import AMMAConfig

Log = Callable[[str], None]
MB = 2**20


def default_source(frames: int) -> str:
    """A synthetic stream of exactly the frames a row needs, rendered into memory before it is read."""
    return f"synthetic://?seed=0&size={FRAME_SIZE}&frames={frames}&prerender=1"


def step_frames(config: Any) -> int:
    """Video frames per pipeline step: one clip hop for AMMA (t·frame_step unless clips overlap), 1 for A*
    (one key frame)."""
    return config.clip_hop if isinstance(config, AMMAConfig) else 1


@contextlib.contextmanager
def precision_context(target: Target) -> Iterator[None]:
    """torch fp16 runs under autocast: the pipeline calls the model in this thread, so it applies."""
    if not target.autocast_fp16:
        yield
        return
    import torch

    with torch.autocast(device_type="cuda", dtype=torch.float16):
        yield


def _percentiles(samples: np.ndarray) -> dict[str, float]:
    return {"p50": round(float(np.percentile(samples, 50)), 3), "p90": round(float(np.percentile(samples, 90)), 3),
            "p99": round(float(np.percentile(samples, 99)), 3), "mean": round(float(samples.mean()), 3)}


def _timed_stages(timer: Any, skip: int) -> dict[str, dict[str, float]]:
    out = {}
    for stage in timer.stages:
        samples = timer.samples(stage)[skip:]
        if len(samples):
            out[stage] = {"mean_ms": round(float(samples.mean()), 3),
                          "p99_ms": round(float(np.percentile(samples, 99)), 3), "count": int(len(samples))}
    return out


def _device_memory(sampler: TelemetrySampler, torch_peak_mb: float | None) -> tuple[float | None, str | None]:
    for metric, source in (("process_gpu_mem_mb", "nvml: this process"),
                           ("gpu_shared_mem_mb", "jtop: RAM the GPU holds (shared DRAM)")):
        peak = sampler.peak(metric)
        if peak is not None:
            return round(peak, 1), source
    if torch_peak_mb is not None:
        return round(torch_peak_mb, 1), "torch.cuda: peak allocated"
    peak = sampler.peak("gpu_mem_used_mb")
    if peak is not None:
        return round(peak, 1), "nvml: whole device (other processes included)"
    return None, None


def _power(sampler: TelemetrySampler) -> tuple[float | None, str | None]:
    for metric, source in (("board_power_w", "jtop: board total"), ("gpu_power_w", "nvml: GPU board")):
        mean = sampler.mean(metric)
        if mean is not None:
            return mean, source
    return None, None


def _torch_cuda(target: Target) -> Any:
    if target.runtime != "torch" or target.device != "cuda":
        return None
    import torch

    return torch.cuda


def stream(model: Any, target: Target, config: BenchConfig, row: Row, sources: Sequence[TelemetrySource]) -> None:
    """Warm-up and timed clips through one Pipeline; fills the row's speed, memory and power figures."""
    from amma_edge.runtime.capture import open_source
    from amma_edge.runtime.pipeline import Pipeline, PipelineConfig

    unit = step_frames(model.config)
    warm_steps = math.ceil(config.warmup / unit)
    timed_steps = math.ceil(config.frames / unit)
    max_frames = (warm_steps + timed_steps) * unit
    uri = config.source or default_source(max_frames)
    cuda = _torch_cuda(target)
    if cuda is not None:
        cuda.reset_peak_memory_stats()
    with open_source(uri) as source, TelemetrySampler(sources, config.telemetry_interval_s) as sampler:
        pipeline = Pipeline(model, source, [], PipelineConfig(max_frames=max_frames))
        with precision_context(target):
            result = pipeline.run()
    timer = pipeline.timer
    totals = timer.samples("total")[warm_steps:]
    if len(totals) == 0:
        raise AmmaEdgeError(f"the source ended after {result.frames} frames, before the first timed "
                            f"{'clip' if unit > 1 else 'frame'}: pass a longer --source or a smaller --warmup")
    if len(totals) < timed_steps:
        row.notes.append(f"the source ended after {result.frames} frames: {len(totals)} of {timed_steps} steps timed")
    engine_stages = ("encoder", "head") if isinstance(model.config, AMMAConfig) else ("detector",)
    engine_ms = sum(float(timer.samples(s)[warm_steps:].sum()) for s in engine_stages)
    row.steps, row.frames = len(totals), len(totals) * unit
    row.seconds = round(float(totals.sum()) / 1e3, 4)
    row.latency_ms = _percentiles(totals)
    row.fps = round(row.frames / row.seconds, 2) if row.seconds > 0 else None
    row.engine_fps = round(row.frames / (engine_ms / 1e3), 2) if engine_ms > 0 else None
    row.timing_ms = _timed_stages(timer, warm_steps)
    rss = sampler.peak("host_rss_mb")
    row.peak_rss_mb = round(rss, 1) if rss is not None else None
    torch_peak = cuda.max_memory_allocated() / MB if cuda is not None else None
    row.peak_device_mem_mb, row.device_mem_source = _device_memory(sampler, torch_peak)
    watts, row.power_source = _power(sampler)
    if watts is not None and row.fps:
        row.avg_power_w = round(watts, 3)
        row.energy_mj_per_frame = round(watts / row.fps * 1e3, 2)  # W / (frames/s) = J per frame
    row.telemetry = {**sampler.as_dict(), "source": uri, "warmup_steps": warm_steps, "stopped_by": result.stopped_by}


def evaluate(model: Any, target: Target, dataset: Any, max_videos: int | None, row: Row) -> None:
    """frame-mAP and video-mAP@0.5 of the test split, streamed through this row's engines."""
    from amma_edge.eval.evaluate import evaluate_amma, evaluate_astar

    gt, root = dataset
    videos = gt.split_videos("test", 0)
    videos = videos[:max_videos] if max_videos else videos
    started = time.perf_counter()
    with precision_context(target):
        if isinstance(model.config, AMMAConfig):
            result = evaluate_amma(model.encode, model.head, model.config, root, gt, videos=videos)
        else:
            result = evaluate_astar(model.detect, model.config, root, gt, videos=videos)
    frame, video = result.frame.mean_ap, result.video.mean_ap(0.5)
    row.frame_map = round(frame, 2) if np.isfinite(frame) else None
    row.video_map = round(video, 2) if np.isfinite(video) else None
    row.evaluation = {"split": "test", "videos": result.videos, "frames_scored": result.frames_scored,
                      "seconds": round(time.perf_counter() - started, 2)}


def measure(target: Target, config: BenchConfig, row: Row, sources: Sequence[TelemetrySource],
            dataset: Any = None, log: Log | None = None) -> None:
    from amma_edge.bench.engines import ensure_engines
    from amma_edge.bench.golden_check import check_golden, golden_summary, tolerance_for
    from amma_edge.runtime.runners.model import open_model

    if target.build_from is not None:
        row.build = ensure_engines(target.build_from, target.path, target.precision,
                                   rebuild=config.rebuild_engines, log=log)
    row.device = target.device
    row.model_path = str(target.path)
    row.size_mb = model_size_mb(target.files())
    with open_model(target.path, target.runtime, target.options) as model:
        row.model = model.config.name
        if target.golden_dir is not None:
            tolerance = tolerance_for(target.runtime, target.precision)
            with precision_context(target):
                reports = check_golden(model, target.golden_dir, tolerance)
            row.golden = golden_summary(reports, tolerance) if reports else None
        stream(model, target, config, row, sources)
        if dataset is not None:
            evaluate(model, target, dataset, config.max_videos, row)


def run_combination(config: BenchConfig, backend: str, precision: str, bundle: ModelBundle,
                    sources: Sequence[TelemetrySource], dataset: Any = None, log: Log | None = None) -> Row:
    """One row, whatever happens: a combination that cannot run or fails is reported in its row, so the
    other combinations still run. Only Ctrl-C (KeyboardInterrupt) stops the benchmark."""
    row = Row(backend, precision, OK, model=bundle.config.name)
    try:
        target = resolve_target(config, backend, precision, bundle)
        measure(target, config, row, sources, dataset, log)
    except (NotAvailable, MissingDependencyError) as exc:
        row.state, row.reason = UNAVAILABLE, str(exc)
    except AmmaEdgeError as exc:
        row.state, row.reason = FAILED, str(exc)
    except Exception as exc:  # a crash in one backend (onnxruntime, TensorRT, CUDA) must not stop the others
        row.state, row.reason = FAILED, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return row


def model_size_mb(paths: Sequence[Path]) -> float:
    return round(sum(p.stat().st_size for p in paths) / 1e6, 3)
