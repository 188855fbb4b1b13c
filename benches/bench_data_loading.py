"""How long one AMMA-S training batch takes to load: decode, augment, normalise, build targets.

Training must not wait on data: the goal is well under a second per batch of 8 samples (K = 3 clips of
t = 4 frames at 288×288, so 96 JPEG frames) on a 2-core machine. The bench writes its own small dataset —
random smooth 320×240 JPEGs (the UCF101-24 / JHMDB-21 frame size) and a GroundTruth with moving boxes —
and depends on nothing else. It times a DataLoader at 0 and 2 workers and, at 0 workers, splits the
per-sample time into its stages. It also times the overlapping-clip recipe (K = 3, t = 8, hop = 4 at 128×160:
24 frames asked for, 16 distinct) with each distinct frame augmented and normalised once, as the datasets do,
against every requested frame transformed, the two alternating sample by sample.

    .venv/bin/python benches/bench_data_loading.py [--batches 8] [--out benches/results/data_loading.json]

(after `make install`; in a checkout without the editable install, prefix PYTHONPATH=.)
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

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.augment import AugmentConfig, augment_clip, mean_fill
from amma_edge.data.dataset import AMMATrainDataset, normalise_frames
from amma_edge.data.frames import FrameReader
from amma_edge.data.sampling import amma_clip_frames, amma_tubelets
from amma_edge.data.targets import amma_targets
from amma_edge.fileio import atomic_write_text
from amma_edge.models.config import AMMAConfig

FRAME_H, FRAME_W = 240, 320
BATCH = 8


def write_dataset(root: Path, videos: int = 4, nframes: int = 40, seed: int = 0) -> GroundTruth:
    """Smooth random JPEG frames (noise upsampled, so they compress and decode like real frames) and tubes."""
    rng = np.random.default_rng(seed)
    names = [f"video{i}" for i in range(videos)]
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for v, name in enumerate(names):
        (root / "rgb-images" / name).mkdir(parents=True, exist_ok=True)
        base = cv2.resize(rng.integers(0, 256, (15, 20, 3), dtype=np.uint8), (FRAME_W, FRAME_H))
        start = rng.uniform([20, 20], [120, 80])
        velocity = rng.uniform(-2, 2, size=2)
        size = rng.uniform([50, 90], [90, 150])
        tube = []
        for f in range(1, nframes + 1):
            frame = np.roll(base, 2 * f, axis=1).copy()
            frame = cv2.add(frame, rng.integers(0, 12, frame.shape, dtype=np.uint8))
            x1, y1 = start + velocity * f
            x2, y2 = x1 + size[0], y1 + size[1]
            cv2.rectangle(frame, (int(x1), int(y1)), (int(x2), int(y2)), (40, 40, 200), -1)
            cv2.imwrite(str(root / "rgb-images" / name / f"{f:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            tube.append((f, x1, y1, x2, y2))
        gttubes[name] = {v % 3: [np.array(tube, np.float32)]}
    return GroundTruth(
        labels=["a", "b", "c"],
        splits=[(names, names)],
        nframes={n: nframes for n in names},
        resolution={n: (FRAME_H, FRAME_W) for n in names},
        gttubes=gttubes,
    )


def time_loader(dataset: AMMATrainDataset, workers: int, batches: int) -> dict[str, float]:
    """Seconds to the first batch (includes worker start-up) and per steady-state batch."""
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=workers > 0)
    times = []
    start = time.perf_counter()
    first = None
    while len(times) < batches:
        for _ in loader:
            now = time.perf_counter()
            if first is None:
                first = now - start
            else:
                times.append(now - start)
            start = now
            if len(times) >= batches:
                break
    return {"workers": workers, "first_batch_s": round(first, 4), "batches_timed": len(times),
            "mean_batch_s": round(statistics.mean(times), 4), "median_batch_s": round(statistics.median(times), 4),
            "min_batch_s": round(min(times), 4), "max_batch_s": round(max(times), 4)}


def time_stages(root: Path, gt: GroundTruth, config: AMMAConfig, samples: int) -> dict[str, float]:
    """Per-sample milliseconds of decode / augment / normalise / targets, one process."""
    reader = FrameReader(root, gt)
    augment = AugmentConfig()
    rng = np.random.default_rng(0)
    keys = [("video0", 12 + i) for i in range(samples)]
    totals = {"decode_ms": 0.0, "augment_ms": 0.0, "normalise_ms": 0.0, "targets_ms": 0.0}
    for video, key in keys:
        t0 = time.perf_counter()
        frames = [reader(video, int(f)) for f in amma_clip_frames(key, config.K, config.t).ravel()]
        labels, boxes = amma_tubelets(gt.gttubes[video], key, config.K, config.t)
        t1 = time.perf_counter()
        images, boxes = augment_clip(frames, boxes, config.input_size, augment, rng, mean_fill(config.mean))
        t2 = time.perf_counter()
        normalise_frames(images, config.mean, config.std)
        t3 = time.perf_counter()
        amma_targets(labels, boxes, config.num_classes, config.input_size, config.stride)
        t4 = time.perf_counter()
        for name, dt in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            totals[name] += dt * 1000
    return {k: round(v / samples, 2) for k, v in totals.items()}


def time_overlap(root: Path, gt: GroundTruth, samples: int) -> dict:
    """Per-sample ms of augment + normalise for overlapping clips: distinct frames only against every frame."""
    config = AMMAConfig(num_classes=3, K=3, t=8, hop=4, input_size=(128, 160))
    reader = FrameReader(root, gt)
    augment, fill = AugmentConfig(), mean_fill(config.mean)
    times: dict[str, list[float]] = {"distinct_frames_ms": [], "every_requested_frame_ms": []}
    for i in range(samples):
        key = 16 + i % 20
        requested = amma_clip_frames(key, config.K, config.t, config.frame_step, config.hop).ravel()
        distinct, index = np.unique(requested, return_inverse=True)
        decoded = {int(f): reader("video0", int(f)) for f in distinct}
        _, boxes = amma_tubelets(gt.gttubes["video0"], key, config.K, config.t, config.frame_step, config.hop)
        order = ("distinct_frames_ms", "every_requested_frame_ms")[:: 1 if i % 2 == 0 else -1]
        for name in order:
            rng = np.random.default_rng(i)
            frames = [decoded[int(f)] for f in (distinct if name == "distinct_frames_ms" else requested)]
            t0 = time.perf_counter()
            images, _ = augment_clip(frames, boxes, config.input_size, augment, rng, fill)
            clips = normalise_frames(images, config.mean, config.std)
            if name == "distinct_frames_ms":
                clips = clips[index]
            times[name].append((time.perf_counter() - t0) * 1000)
    result: dict = {"config": f"K={config.K} t={config.t} hop={config.hop} "
                              f"{config.input_size[1]}x{config.input_size[0]}",
                    "frames_requested": int(requested.size), "frames_distinct": int(distinct.size),
                    "samples": samples}
    result.update({k: round(statistics.median(v), 3) for k, v in times.items()})
    result["speedup"] = round(result["every_requested_frame_ms"] / result["distinct_frames_ms"], 2)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=8, help="steady-state batches to time per setting")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "data_loading.json"))
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    config = AMMAConfig(num_classes=3)  # AMMA-S layout: K = 3, t = 4, 288×288
    with tempfile.TemporaryDirectory(prefix="amma-bench-data-") as tmp:
        root = Path(tmp)
        gt = write_dataset(root)
        dataset = AMMATrainDataset(root, gt, config, augment=AugmentConfig())
        result = {
            "bench": "data_loading",
            "what": f"one AMMA training batch: {BATCH} samples × K={config.K} × t={config.t} frames "
                    f"({BATCH * config.K * config.t} JPEG {FRAME_W}x{FRAME_H} decodes), default augmentation, "
                    f"resize to {config.input_size[1]}x{config.input_size[0]}, normalise, targets",
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
                        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                        "opencv": cv2.__version__, "opencv_threads": cv2.getNumThreads(), "numpy": np.__version__},
            "stages_per_sample": time_stages(root, gt, config, samples=16),
            "loaders": [time_loader(dataset, workers, args.batches) for workers in (0, 2)],
            "overlapping_clips": time_overlap(root, gt, samples=64),
        }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
