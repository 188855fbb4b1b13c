"""AMMA's Figure 9 on our runtime: the per-clip cost of streaming with the feature cache against recomputing
all K clip features every clip, for K = 2, 3, 4, 5.

AMMA-S at 288×288, t = 4, 24 classes, UNTRAINED (random weights: speed does not depend on them), exported per K
by the export stage (`export_model`), run by ONNX Runtime on the CPU with `--threads` intra-op threads. Both
modes run through the same `Pipeline` (no sinks) over the same prerendered synthetic 320×240 stream, side by
side in one run, alternating in rounds so background load drifts hit both alike:

  streaming  the pipeline as deployed: one encoder pass per new clip, the K − 1 older features from the
             cache, one head pass, decode, online linking;
  recompute  the same pipeline and stream, with a model whose head first re-encodes the K − 1 older clips
             (K encoder passes per clip, as without a cache), then the same head, decode and linking.

Per K: the per-clip time (the pipeline's `total` stage, warm-up clips dropped; median, mean, p90) of each mode,
their ratio, the streaming encoder and head times E and H, and the ratios they predict: (K·E + H) / (E + H)
for the engines alone, and (S + (K − 1)·E) / S with S the whole streaming clip (preprocess, decode, link in).
The recomputed features are checked against the cached ones (they must agree: same graph, same input).

    nice -n 19 .venv/bin/python benches/bench_streaming_k.py [--clips 30] [--threads 2] [--ks 2,3,4,5]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch

from amma_edge.bench.machine import describe_machine
from amma_edge.export.exporter import ExportOptions, export_model
from amma_edge.fileio import atomic_write_text
from amma_edge.models import build, get_config
from amma_edge.models.config import config_to_dict
from amma_edge.runtime.capture import open_source
from amma_edge.runtime.pipeline import Pipeline, PipelineConfig
from amma_edge.runtime.runners import DeviceModel, RunnerOptions, open_model
from amma_edge.train.checkpoint import save_checkpoint

FRAME_SIZE = "320x240"
WARMUP_CLIPS = 3


class Recomputing:
    """`model` (same runners, everything else delegated), but every head call first re-encodes the K − 1 clips
    before the newest, so each clip costs K encoder passes: the cost without a feature cache. The stream's own
    encoder call (the newest clip) stays; at a stream's first clip its padding clip stands in for the older
    clips, as the cache does."""

    def __init__(self, model: DeviceModel):
        self.model = model
        self.history: deque[np.ndarray] = deque(maxlen=model.config.K - 1)
        self.pending: list[np.ndarray] = []
        self.max_difference = 0.0  # between recomputed and cached features

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def encode(self, clip: np.ndarray) -> np.ndarray:
        self.pending.append(np.array(clip, copy=True))
        return self.model.encode(clip)

    def head(self, features: np.ndarray) -> dict[str, np.ndarray]:
        newest, padding = self.pending[0], self.pending[1:]
        if not self.history and padding:
            self.history.extend([padding[0]] * (self.config.K - 1))
        older = [self.model.encode(c) for c in self.history]
        stacked = np.stack([*older, features[-1]])
        self.max_difference = max(self.max_difference, float(np.abs(stacked - features).max()))
        self.history.append(newest)
        self.pending = []
        return self.model.head(np.ascontiguousarray(stacked))


def export_amma_s(K: int, root: Path) -> Path:
    config = get_config("amma-s", K=K)  # 288×288, t = 4, 24 classes
    torch.manual_seed(0)
    model = build(config).eval()
    names = [f"class_{i}" for i in range(config.num_classes)]
    checkpoint = save_checkpoint(root / f"amma-s-k{K}.pt", {"model_config": config_to_dict(config),
                                                             "class_names": names, "model": model.state_dict(),
                                                             "metrics": {}})
    return export_model(checkpoint, root / f"export-k{K}", ExportOptions(random_samples=1)).out


def clip_times(model: DeviceModel, clips: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-clip `total` ms of the timed clips, and the per-stage samples, through one Pipeline run."""
    t = model.config.t
    frames = (WARMUP_CLIPS + clips) * t
    with open_source(f"synthetic://?seed=0&size={FRAME_SIZE}&frames={frames}&prerender=1") as source:
        pipeline = Pipeline(model, source, [], PipelineConfig(max_frames=frames))
        pipeline.run()
    timer = pipeline.timer
    stages = {s: timer.samples(s)[WARMUP_CLIPS:] for s in timer.stages}
    return stages["total"], stages


def summary(samples: np.ndarray) -> dict[str, float]:
    return {"median_ms": round(float(np.median(samples)), 3), "mean_ms": round(float(samples.mean()), 3),
            "p90_ms": round(float(np.percentile(samples, 90)), 3), "clips": int(len(samples))}


def measure_k(folder: Path, clips: int, rounds: int, threads: int) -> dict:
    options = RunnerOptions(threads=threads, providers=("cpu",))
    with open_model(folder, "ort", options) as model:
        K = model.config.K
        streaming, recompute, encoder, head = [], [], [], []
        recomputing = Recomputing(model)
        per_round = max(clips // rounds, 1)
        for _ in range(rounds):
            total, stages = clip_times(model, per_round)
            streaming.append(total)
            encoder.append(stages["encoder"])
            head.append(stages["head"])
            recomputing.history.clear()
            recompute.append(clip_times(recomputing, per_round)[0])
        s, r = np.concatenate(streaming), np.concatenate(recompute)
        E, H = float(np.median(np.concatenate(encoder))), float(np.median(np.concatenate(head)))
        return {
            "K": K,
            "streaming": summary(s),
            "recompute": summary(r),
            "recompute_over_streaming": round(float(np.median(r) / np.median(s)), 3),
            "encoder_ms_E": round(E, 3),
            "head_ms_H": round(H, 3),
            "predicted_ratio_(K*E+H)/(E+H)": round((K * E + H) / (E + H), 3),
            # The same prediction with the clip's time outside the engines (preprocess, decode, link) counted.
            "predicted_ratio_(S+(K-1)*E)/S": round((float(np.median(s)) + (K - 1) * E) / float(np.median(s)), 3),
            "recomputed_vs_cached_feature_max_abs_diff": recomputing.max_difference,
        }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=30, help="timed clips per mode and K (after 3 warm-up clips)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two modes per K")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--ks", default="2,3,4,5", help="the K values, comma-separated")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "streaming_k.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",")]
    load_before = os.getloadavg()
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for K in ks:
            print(f"K={K}: export", file=sys.stderr)
            folder = export_amma_s(K, Path(tmp))
            print(f"K={K}: streaming vs recompute", file=sys.stderr)
            results.append(measure_k(folder, args.clips, args.rounds, args.threads))
            print(json.dumps(results[-1]), file=sys.stderr)
    config = get_config("amma-s")
    result = {
        "bench": "streaming_k",
        "what": (f"AMMA-S {config.input_size[0]}x{config.input_size[1]}, t={config.t}, {config.num_classes} classes, "
                 f"UNTRAINED (random weights); ONNX Runtime CPU, {args.threads} intra-op thread(s); Pipeline without "
                 f"sinks over a prerendered synthetic {FRAME_SIZE} stream; per mode and K {args.clips} timed clips "
                 f"in {args.rounds} alternating rounds, {WARMUP_CLIPS} warm-up clips dropped per round"),
        "per_clip_ms_is": "the pipeline's `total` stage: capture wait, preprocess, encoder(s), head, decode, link",
        "results": results,
        "ratio_by_K": {str(r["K"]): r["recompute_over_streaming"] for r in results},
        "machine": {**describe_machine(),
                    "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
                    "note": "shared 2-core machine (a training run in the background): absolute times are "
                            "pessimistic; the two modes ran interleaved, compare them with each other"},
        "seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps({"ratio_by_K": result["ratio_by_K"], "seconds": result["seconds"]}, indent=1))
    return result


if __name__ == "__main__":
    main()
