"""How much the runtime's C kernels save over their NumPy twins, per clip, at AMMA-S's 288×288 input.

DESIGN.md keeps hot loops in C only where a benchmark shows they matter; this is that benchmark. Kernels:
preprocess of a 320×240 (UCF101-24 / JHMDB-21) and a 640×480 frame to 288×288; RGB-difference micro-motion of a
t = 4 clip; one feature-cache push at K = 3, C = 64, 36×36; tubelet decoding of a 24-class 36×36 head at K = 3
(top 100); and the linker's overlap kernels on those 100 tubelets (per-class tubelet NMS, the aligned tubelet
IoU of 10 tubes against 10 tubelets, a 100×100 box IoU matrix). The C kernel and its twin run side by side in one
process, interleaved round by round so that load from other processes on a shared machine hits both alike;
each round times a batch of calls, and the result is the median over rounds. For context (not a ratio) it
also times what a Python pipeline would call instead: cv2.resize + the training normalisation, and the PyTorch
MicroMotion module, both on one thread as the kernels are.

    .venv/bin/python benches/bench_native.py [--repeats 15] [--out benches/results/native_kernels.json]

(after `make install`, or `python setup.py build_ext --inplace` and PYTHONPATH=.)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from amma_edge.bench.machine import cpu_model
from amma_edge.data.dataset import normalise_frames
from amma_edge.fileio import atomic_write_text
from amma_edge.models.amma.micro_motion import MicroMotion
from amma_edge.models.config import IMAGENET_MEAN, IMAGENET_STD
from amma_edge.runtime import native, reference

SIZE = 288
ROUND_S = 0.03  # each round of each candidate runs at least this long, so timer resolution does not matter


def calls_per_round(fn: Callable[[], object]) -> int:
    fn()  # warm caches and lazy allocations
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(ROUND_S / once))


def compare(candidates: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict[str, float]]:
    """Milliseconds per call of each candidate: median, min and max over `repeats` interleaved rounds."""
    counts = {name: calls_per_round(fn) for name, fn in candidates.items()}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate who goes first
            fn, n = candidates[name], counts[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n * 1e3)
    return {name: {"median_ms": round(statistics.median(s), 5), "min_ms": round(min(s), 5),
                   "max_ms": round(max(s), 5), "calls_per_round": counts[name]} for name, s in samples.items()}


def kernel_entry(what: str, timings: dict[str, dict[str, float]], context: dict[str, dict[str, float]]) -> dict:
    c, twin = timings["c"]["median_ms"], timings["numpy"]["median_ms"]
    return {"what": what, "c": timings["c"], "numpy": timings["numpy"], "speedup_c_over_numpy": round(twin / c, 2),
            "context": context}


def bench_preprocess(height: int, width: int, repeats: int) -> dict:
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = np.empty((3, SIZE, SIZE), dtype=np.float32)
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    timings = compare({
        "c": lambda: native._native.preprocess(frame, out, mean, std),
        "numpy": lambda: reference.preprocess(frame, out, mean, std),
        "cv2_resize_then_normalise": lambda: normalise_frames(
            cv2.resize(frame, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)[None], mean, std),
    }, repeats)
    context = {"cv2_resize_then_normalise": timings.pop("cv2_resize_then_normalise")}
    return kernel_entry(f"uint8 {width}x{height} BGR -> float32 3x{SIZE}x{SIZE} RGB, bilinear + normalise",
                        timings, context)


def bench_micro_motion(t: int, repeats: int) -> dict:
    clip = np.random.default_rng(0).standard_normal((t, 3, SIZE, SIZE)).astype(np.float32)
    out = np.empty((t - 1, SIZE, SIZE), dtype=np.float32)
    module, tensor = MicroMotion("rgb_diff").eval(), torch.from_numpy(clip)[None]

    def torch_forward() -> None:
        with torch.no_grad():
            module(tensor)

    timings = compare({
        "c": lambda: native._native.rgb_diff_motion(clip, out, reference.MICRO_MOTION_EPS),
        "numpy": lambda: reference.rgb_diff_motion(clip, out, reference.MICRO_MOTION_EPS),
        "torch_micro_motion_module": torch_forward,
    }, repeats)
    context = {"torch_micro_motion_module": timings.pop("torch_micro_motion_module")}
    what = f"rgb_diff micro-motion of a float32 ({t}, 3, {SIZE}, {SIZE}) clip -> ({t - 1}, {SIZE}, {SIZE})"
    return kernel_entry(what, timings, context)


def bench_cache_push(K: int, shape: tuple[int, int, int], repeats: int) -> dict:
    feature = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    c_cache, twin_cache = native.FeatureCache(K, shape), reference.FeatureCache(K, shape)
    timings = compare({"c": lambda: c_cache.push(feature), "numpy": lambda: twin_cache.push(feature)}, repeats)
    mib = 2 * feature.nbytes / 2**20
    return kernel_entry(f"FeatureCache.push at K={K}, feature {shape} float32 ({mib:.2f} MiB written: slot and mirror)",
                        timings, {})


def head_maps(C: int, K: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An untrained head's output: scores everywhere (many peaks), small offsets, sizes of a few cells."""
    rng = np.random.default_rng(0)
    center = rng.random((C, h, w)).astype(np.float32)
    trajectory = (rng.standard_normal((2 * K, h, w)) * 0.5).astype(np.float32)
    box = (rng.random((2 * K, h, w)) * 8 + 1).astype(np.float32)
    return center, trajectory, box


def bench_decode(C: int, K: int, size: int, top_n: int, repeats: int) -> dict:
    h = w = size // 8
    center, trajectory, box = head_maps(C, K, h, w)
    outs = (np.empty((top_n, K, 4), np.float32), np.empty(top_n, np.float32), np.empty(top_n, np.int64))
    args = (8, float(size), float(size), 240.0, 320.0)
    tensor = torch.from_numpy(center)[None]

    def torch_peaks_topk() -> None:  # CenterNet's decode in PyTorch: max-pool peaks + topk, no gather
        with torch.no_grad():
            pooled = torch.nn.functional.max_pool2d(tensor, 3, stride=1, padding=1)
            torch.topk((tensor * (pooled == tensor)).reshape(1, -1), top_n)

    timings = compare({
        "c": lambda: native._native.decode(center, trajectory, box, *outs, *args),
        "numpy": lambda: reference.decode(center, trajectory, box, *outs, *args),
        "torch_maxpool_topk": torch_peaks_topk,
    }, repeats)
    context = {"torch_maxpool_topk": timings.pop("torch_maxpool_topk")}
    what = (f"decode of a {C}-class {h}x{w} head (input {size}x{size}), K={K}: 3x3 peaks, top {top_n}, "
            "gather K boxes into 320x240 frame pixels")
    return kernel_entry(what, timings, context)


def decoded_tubelets(C: int, K: int, size: int, top_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    center, trajectory, box = head_maps(C, K, size // 8, size // 8)
    boxes, scores, classes = np.empty((top_n, K, 4), np.float32), np.empty(top_n, np.float32), np.empty(top_n, np.int64)
    n = reference.decode(center, trajectory, box, boxes, scores, classes, 8, size, size, 240.0, 320.0)
    return boxes[:n].astype(np.float64), scores[:n].astype(np.float64), classes[:n]


def bench_nms(C: int, K: int, size: int, top_n: int, repeats: int) -> dict:
    boxes, scores, classes = decoded_tubelets(C, K, size, top_n)
    order = np.lexsort((np.arange(len(scores)), -scores, classes))
    keep = np.empty(len(scores), np.uint8)
    timings = compare({
        "c": lambda: native._native.nms_sorted(boxes, order, classes, 0.3, 10, 0.0, keep),
        "numpy": lambda: reference.nms_sorted(boxes, order, classes, 0.3, 10, 0.0, keep),
    }, repeats)
    return kernel_entry(f"per-class tubelet NMS (threshold 0.3, top 10 per class) of {len(scores)} decoded tubelets, "
                        f"K={K}, {C} classes (the linker's first call each step)", timings, {})


def bench_aligned_iou(K: int, tubes: int, tubelets: int, repeats: int) -> dict:
    boxes, _, _ = decoded_tubelets(24, K, SIZE, 100)
    a, b = np.ascontiguousarray(boxes[:tubes]), np.ascontiguousarray(boxes[tubes:tubes + tubelets])
    frames_a = np.tile(np.arange(K, dtype=np.int64) * 4, (tubes, 1))
    frames_b = np.arange(1, K + 1, dtype=np.int64) * 4
    out, shared = np.empty((tubes, tubelets)), np.empty(tubes, np.int64)
    timings = compare({
        "c": lambda: native._native.aligned_tubelet_iou(a, frames_a, b, frames_b, out, shared, 0.0),
        "numpy": lambda: reference.aligned_tubelet_iou(a, frames_a, b, frames_b, out, shared, 0.0),
    }, repeats)
    return kernel_entry(f"mean IoU over shared frames of {tubes} tubes' last tubelets against {tubelets} new "
                        f"tubelets, K={K} (the linker's per-class match)", timings, {})


def bench_box_iou(n: int, repeats: int) -> dict:
    boxes, _, _ = decoded_tubelets(24, 3, SIZE, n)
    a = np.ascontiguousarray(boxes[:, -1])
    out = np.empty((len(a), len(a)))
    timings = compare({
        "c": lambda: native._native.box_iou(a, a, out, 0.0),
        "numpy": lambda: reference.box_iou(a, a, out, 0.0),
    }, repeats)
    return kernel_entry(f"pairwise IoU matrix of {len(a)}x{len(a)} boxes, float64", timings, {})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds per candidate (median taken)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "native_kernels.json"))
    args = parser.parse_args(argv)
    if not native.NATIVE_AVAILABLE:
        sys.exit(f"bench_native needs the C extension: {native.native_unavailable_reason()}")

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    load_before = os.getloadavg()
    kernels = {
        "preprocess_320x240": bench_preprocess(240, 320, args.repeats),
        "preprocess_640x480": bench_preprocess(480, 640, args.repeats),
        "rgb_diff_t4": bench_micro_motion(4, args.repeats),
        "feature_cache_push_K3_C64_36x36": bench_cache_push(3, (64, 36, 36), args.repeats),
        "decode_C24_36x36_K3_top100": bench_decode(24, 3, SIZE, 100, args.repeats),
        "tubelet_nms_100_K3_C24": bench_nms(24, 3, SIZE, 100, args.repeats),
        "aligned_tubelet_iou_10x10_K3": bench_aligned_iou(3, 10, 10, args.repeats),
        "box_iou_100x100": bench_box_iou(100, args.repeats),
    }
    result = {
        "bench": "native_kernels",
        "what": f"C kernel vs NumPy twin at {SIZE}x{SIZE}, one thread each; median of {args.repeats} interleaved "
                "rounds; speedup = NumPy median / C median",
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
                    "platform": platform.platform(), "python": sys.version.split()[0], "numpy": np.__version__,
                    "torch": torch.__version__, "opencv": cv2.__version__,
                    "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
                    "note": "shared machine: other processes may run; rounds are interleaved so load hits C and "
                            "NumPy alike"},
        "kernels": kernels,
        "speedups": {name: k["speedup_c_over_numpy"] for name, k in kernels.items()},
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
