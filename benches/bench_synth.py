"""How fast `amma-edge data synth` writes a dataset: the goal is 200 videos of 320×240 in under two minutes
on a 2-core machine, so a fresh machine has training data in the time it takes to read the README.

It times the real writer (rendering, JPEG encoding, files, annotations) into a temporary folder, and
separately the rendering alone of a few videos in this process, to say where the time goes.

    .venv/bin/python benches/bench_synth.py [--videos 200] [--workers N] [--out benches/results/synth.json]

(after `make install`; in a checkout without the editable install, prefix PYTHONPATH=.)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from amma_edge.data.synth.generator import build_scene, scene_frames
from amma_edge.data.synth.writer import SynthConfig, write_dataset
from amma_edge.fileio import atomic_write_text


def _render_only(config: SynthConfig, videos: int) -> dict:
    frames = 0
    start = time.perf_counter()
    for i in range(videos):
        for _ in scene_frames(build_scene(config.spec(i))):
            frames += 1
    seconds = time.perf_counter() - start
    return {"videos": videos, "frames": frames, "seconds": round(seconds, 3), "frames_per_s": round(frames / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "synth.json")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    workers = args.workers or cores
    config = SynthConfig(videos=args.videos, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        gt = write_dataset(Path(tmp) / "synth", config, workers=workers)
        seconds = time.perf_counter() - start
    frames = sum(gt.nframes.values())
    result = {
        "bench": "synth",
        "what": f"amma-edge data synth --videos {args.videos} --size {config.width}x{config.height} "
                f"--seed {args.seed} --workers {workers}: render, JPEG-encode and write every frame, then annotations",
        "videos": args.videos,
        "frames": frames,
        "seconds": round(seconds, 2),
        "frames_per_s": round(frames / seconds, 1),
        "cores": cores,
        "workers": workers,
        "goal": "200 videos of 320x240 in under 120 s on 2 cores",
        "render_only_one_process": _render_only(config, min(8, args.videos)),
        "machine": {
            "cpus": cores,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "opencv": cv2.__version__,
            "numpy": np.__version__,
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("videos", "frames", "seconds", "frames_per_s", "cores")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
