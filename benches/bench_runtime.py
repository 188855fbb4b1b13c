"""The device pipeline end to end, per backend, and what AMMA's feature cache saves.

1. End to end: AMMA-S (288×288, t = 4, K = 3, 24 classes) on a synthetic source (320×240 frames, rendered into
   memory first so capture costs what a hardware decoder's copy would), through `Pipeline` with no sinks:
   PyTorch eager, ONNX Runtime fp32 and ONNX Runtime INT8 (the calibration stage's Q/DQ graphs of the same
   model, calibrated here on a small synthetic dataset unless `--int8 DIR` names a folder) side by side in one run. Reported: FPS, the
   per-stage mean and p99, and the share of each clip's time spent outside the two engine calls.
2. Feature caching at K = 5: streaming (one encoder pass per new clip, the K − 1 older features from the cache:
   E + H per clip) against recomputing all K clip features every clip (K·E + H), both measured, next to the
   ideal ratio (K·E + H) / (E + H) computed from the measured E and H.

An untrained model is as fast as a trained one, so the weights are random; the graphs come from the real
export and calibration stages.

    nice -n 19 .venv/bin/python benches/bench_runtime.py [--clips 30] [--threads 1] [--int8 DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from amma_edge.bench.machine import cpu_model
from amma_edge.export import load_bundle
from amma_edge.fileio import atomic_write_text
from amma_edge.models import build, get_config
from amma_edge.models.config import AMMAConfig, config_to_dict
from amma_edge.runtime.capture import open_source
from amma_edge.runtime.pipeline import Pipeline, PipelineConfig
from amma_edge.runtime.runners import DeviceModel, RunnerOptions, open_model
from amma_edge.runtime.streaming import TubeletStream
from amma_edge.train.checkpoint import save_checkpoint

FRAME_SIZE = "320x240"


def make_checkpoint(config: AMMAConfig, path: Path) -> Path:
    torch.manual_seed(0)
    model = build(config).eval()
    names = [f"class_{i}" for i in range(config.num_classes)]
    return save_checkpoint(path, {"model_config": config_to_dict(config), "class_names": names,
                                  "model": model.state_dict(), "metrics": {}})


def export(checkpoint: Path, out: Path) -> Path:
    """The real export stage (checked, simplified, parity-tested), without golden data from a dataset."""
    from amma_edge.export.exporter import ExportOptions, export_model

    return export_model(checkpoint, out, ExportOptions(random_samples=1)).out


def end_to_end(model: DeviceModel, clips: int, warmup: int) -> dict:
    t = model.config.t
    uri = f"synthetic://?seed=0&size={FRAME_SIZE}&frames={(clips + warmup) * t}&prerender=1"
    with open_source(uri) as source:
        pipeline = Pipeline(model, source, [], PipelineConfig(max_frames=warmup * t))
        pipeline.run()  # warm-up clips: lazy allocations, first-call compilation
        pipeline = Pipeline(model, source, [], PipelineConfig(max_frames=clips * t))
        result = pipeline.run()
    timing = result.timing
    engines = timing["encoder"]["mean_ms"] + timing["head"]["mean_ms"]
    total = timing["total"]["mean_ms"]
    return {
        "backend": model.backend, "precision": model.precision, "clips": result.steps, "frames": result.frames,
        "fps": round(result.fps, 2), "clip_ms_mean": total, "timing_ms": timing,
        "engine_ms_mean": round(engines, 3),
        "share_outside_engines": round(1 - engines / total, 4),
        "share_outside_engines_excluding_capture_wait": round(
            1 - engines / (total - timing["capture wait"]["mean_ms"]), 4),
    }


def median_ms(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def feature_caching(model: DeviceModel, clips: int) -> dict:
    """Streaming (cache) vs recomputing all K features per clip, both through the same runners."""
    c: AMMAConfig = model.config  # type: ignore[assignment]
    rng = np.random.default_rng(0)
    video = rng.standard_normal((clips + c.K, c.t, 3, *c.input_size)).astype(np.float32)
    features = np.stack([model.encode(video[k]) for k in range(c.K)])
    model.head(features)  # warm both graphs
    E = median_ms(lambda: model.encode(video[0]), clips)
    H = median_ms(lambda: model.head(features), clips)
    stream = TubeletStream(model.encode, model.head, c, original_size=c.input_size)
    stream.push_clip(video[0])  # the first clip also encodes the padding: not the steady state
    stream_ms = statistics.median(
        median_ms(lambda i=i: stream.push_clip(video[i]), 1) for i in range(1, clips + 1))

    def recompute(i: int) -> None:
        feats = np.stack([model.encode(video[i + k]) for k in range(c.K)])
        model.head(feats)

    recompute_ms = statistics.median(median_ms(lambda i=i: recompute(i), 1) for i in range(clips))
    return {
        "backend": model.backend, "K": c.K, "encoder_ms_E": round(E, 3), "head_ms_H": round(H, 3),
        "streaming_clip_ms": round(stream_ms, 3), "recompute_clip_ms": round(recompute_ms, 3),
        "measured_speedup": round(recompute_ms / stream_ms, 3),
        "ideal_speedup_(K*E+H)/(E+H)": round((c.K * E + H) / (E + H), 3),
        "note": "streaming_clip_ms is a whole push_clip (encoder, head, decode, link); recompute_clip_ms is the "
                "K encoder passes and the head alone, so the measured speedup slightly understates the engines' own",
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=30, help="clips timed per backend (after 3 warm-up clips)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per engine (both backends alike)")
    parser.add_argument("--int8", type=Path, default=None,
                        help="an INT8 folder of AMMA-S 288x288 to run beside fp32 (default: calibrate one here)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "runtime.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    options = RunnerOptions(threads=args.threads)
    load_before = os.getloadavg()
    config5 = get_config("amma-s", K=5)
    results: dict = {"end_to_end": {}, "feature_cache_K5": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.int8 is None:
            # One untrained AMMA-S (288×288, K = 3, t = 4, 8 classes) for all three rows: the checkpoint, its
            # export and that export calibrated to INT8 on a small synthetic dataset (bench_int8's setup).
            from bench_int8 import default_setup

            fp32, int8, _ = default_setup(tmp, samples=64, say=lambda line: print(line, file=sys.stderr))
            ckpt, config = tmp / "amma-s.pt", load_bundle(fp32).config
        else:
            config = get_config("amma-s")
            ckpt = make_checkpoint(config, tmp / "amma-s.pt")
            fp32, int8 = export(ckpt, tmp / "onnx"), args.int8
        models = {"pytorch_eager": (ckpt, None), "onnxruntime_fp32": (fp32, None), "onnxruntime_int8": (int8, "ort")}
        for name, (path, backend) in models.items():
            print(f"end to end: {name}", file=sys.stderr)
            with open_model(path, backend, options) as model:
                results["end_to_end"][name] = end_to_end(model, args.clips, warmup=3)
        ckpt5 = make_checkpoint(config5, tmp / "amma-s-k5.pt")
        for name, path in (("pytorch_eager", ckpt5), ("onnxruntime_fp32", export(ckpt5, tmp / "onnx5"))):
            print(f"feature cache K=5: {name}", file=sys.stderr)
            with open_model(path, None, options) as model:
                results["feature_cache_K5"][name] = feature_caching(model, max(args.clips // 2, 5))
    e2e = results["end_to_end"]
    result = {
        "bench": "runtime",
        "what": (f"AMMA-S {config.input_size[0]}x{config.input_size[1]}, t={config.t}, K={config.K}, "
                 f"{config.num_classes} classes, untrained; synthetic {FRAME_SIZE} source prerendered; Pipeline "
                 f"without sinks; {args.threads} thread(s) per engine; {args.clips} timed clips after 3 warm-up"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "python": sys.version.split()[0], "torch": torch.__version__,
                    "onnxruntime": __import__("onnxruntime").__version__,
                    "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
                    "note": "shared machine: absolute times move with the background load (loadavg above); "
                            "compare the backends with each other"},
        "threads_per_engine": args.threads,
        **results,
        "fps": {name: r["fps"] for name, r in e2e.items()},
        "int8": "calibrated here (entropy, 64 synthetic clips)" if args.int8 is None else str(args.int8),
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
