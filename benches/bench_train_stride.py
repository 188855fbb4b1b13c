"""One AMMA-S training step at output stride 8 and at stride 4, side by side, to size the stride-4 recipe.

A stride-4 grid has 4x the cells, so the head and the loss cost more; how much more per step decides how many
steps the 45-minute budget buys. Each variant gets its own batch of the same clips (the targets follow the grid)
and its own model; the variants alternate step by step under `--amp` (bfloat16 where the CPU has it), so the
ratios survive a noisy shared machine. Writes benches/results/train_step_stride.json.
Usage: python benches/bench_train_stride.py [DATA] [--batch 4] [--steps 8]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.data.loading import load_dataset  # noqa: E402
from amma_edge.fileio import atomic_write_text  # noqa: E402
from amma_edge.models import build, get_config  # noqa: E402
from amma_edge.train.losses import build_loss, default_loss_config  # noqa: E402
from amma_edge.train.trainer import TrainStep, autocast_dtype, default_train_config, make_datasets  # noqa: E402

# The recipes' settings (benches/recipes/synthetic.sh): stride 8 with head_conv 256 (the fifth recipe),
# stride 4 with head_conv 64 and 128 (the seventh).
VARIANTS = {
    "stride8_head256": dict(decoder="skip"),
    "stride4_head64": dict(decoder="skip", output_stride=4, head_conv=64),
    "stride4_head128": dict(decoder="skip", output_stride=4, head_conv=128),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("runs/s3/synth-train"))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype, why_not = autocast_dtype(torch.device("cpu"))
    gt, root = load_dataset(args.data)
    steps = {}
    for name, overrides in VARIANTS.items():
        config = get_config("amma-s", input_size=(128, 160), num_classes=len(gt.labels), **overrides)
        train_set, _ = make_datasets(default_train_config(config), config, gt, root)
        batch = torch.utils.data.default_collate([train_set[i] for i in range(args.batch)])
        torch.manual_seed(0)
        step = TrainStep(build(config), build_loss(config, default_loss_config(config)))
        steps[name] = (step, torch.optim.Adam(step.parameters(), 1e-3), batch)

    def one(name: str) -> float:
        step, optimizer, batch = steps[name]
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            losses = step(batch)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        return time.perf_counter() - started

    for name in steps:  # warm-up: oneDNN picks and caches its kernels on the first calls
        one(name), one(name)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.steps):
        for name in steps:
            times[name].append(one(name))
    median = {name: statistics.median(t) for name, t in times.items()}
    first = next(iter(VARIANTS))
    result = {
        "bench": "train_step_stride",
        "what": f"one AMMA-S training step (128x160, batch {args.batch}, forward, loss, backward, Adam) per output "
                "stride and head width, variants alternating (see the bench's docstring)",
        "precision": str(dtype).removeprefix("torch.") if dtype is not None else f"float32 ({why_not})",
        "variants": VARIANTS,
        "median_step_s": {k: round(v, 3) for k, v in median.items()},
        "cost_over": first,
        "cost_ratio": {k: round(v / median[first], 3) for k, v in median.items() if k != first},
        "step_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "machine": {"cpus": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__,
                    "platform": platform.platform()},
    }
    out = Path(__file__).resolve().parent / "results" / "train_step_stride.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("precision", "median_step_s", "cost_ratio")}))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
