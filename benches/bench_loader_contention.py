"""What the data loader costs a training step on 2 cores: the recipe's run, short, with its loader as it is,
with OpenCV held to one thread in the loader, and with no augmentation, alternating, each alone on the machine.

The unaugmented 6,000-step run went at 0.33 s a step and the augmented runs of the same recipe at 0.38-0.47
(training.json), more than the loader's own cost looked likely to explain, unless the worker,
waking beside PyTorch's two threads, or OpenCV's thread pool in it (one thread per core by default), makes
the model's threads wait. This measures that, side by side. Each variant trains `--steps` steps of the
recipe (bfloat16, batch 4, t = 8, hop 4, stride 4, no expand/crop) in a fresh process; the pace is the
median seconds a step between its log rows after the first (start-up).
Writes benches/results/loader_contention.json.
Usage: python benches/bench_loader_contention.py [DATA] [--steps 300] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.bench.machine import cpu_model  # noqa: E402
from amma_edge.fileio import atomic_write_text  # noqa: E402
from amma_edge.train.progress import read_log, step_spans  # noqa: E402

RECIPE = ["--model", "amma-s", "--input-size", "128x160", "--device", "cpu", "--workers", "1", "--epochs", "1",
          "--lr", "2e-3", "--batch", "4", "--amp", "--set", "decoder=skip", "--set", "output_stride=4",
          "--set", "head_conv=128", "--set", "lr_schedule=cosine", "--set", "warmup_steps=800",
          "--set", "heatmap_min_radius=1", "--set", "val_max_samples=8", "--seed", "0", "--log-every", "25",
          "--set", "grad_clip=50", "--set", "t=8", "--set", "hop=4", "--set", "ema_decay=0.999",
          "--set", "expand_crop=false"]
# name → (extra train arguments, extra environment)
VARIANTS = {
    "augment": ([], {}),
    "augment_opencv_1_thread": ([], {"OPENCV_FOR_THREADS_NUM": "1"}),
    "no_augment": (["--set", "augment=false"], {}),
}


def step_pace(log: Path) -> float:
    """Median seconds a step, leaving out the span after the first step row too (the loader still warming)."""
    return statistics.median(step_spans(read_log(log))[1:])


def run_variant(data: Path, name: str, steps: int, work: Path) -> float:
    args, env = VARIANTS[name]
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    binary = Path(sys.executable).parent / "amma-edge"
    command = [str(binary), "train", "--data", str(data), *RECIPE, *args, "--max-steps", str(steps), "--out", str(out)]
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "2", **env},
                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return step_pace(out / "log.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, nargs="?", default=Path("runs/s3/synth-train-1000"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    paces: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name in VARIANTS:
                paces[name].append(round(run_variant(args.data, name, args.steps, Path(tmp)), 4))
                print(name, paces[name][-1], flush=True)
    medians = {name: statistics.median(v) for name, v in paces.items()}
    result = {
        "bench": "loader_contention",
        "what": "seconds an optimizer step of the no-expand AMMA-S recipe (bfloat16, batch 4, workers 1, 2 torch "
                f"threads) in {args.steps}-step runs, the variants alternating, median over log rows after the first",
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "data": str(args.data), "steps": args.steps, "repeats": args.repeats,
        "seconds_per_step": paces, "median_seconds_per_step": medians,
        "speedup_over_augment": {name: round(medians["augment"] / m, 3) for name, m in medians.items()},
    }
    out = Path(__file__).resolve().parent / "results" / "loader_contention.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
