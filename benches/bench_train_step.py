"""One AMMA training step (forward, loss, backward, Adam update) in float32 and under `--amp`, side by side.

On a CPU `--amp` is bfloat16 autocast (oneDNN's AVX512-BF16 / AMX kernels), with the stride-2 depthwise
convolutions kept in float32 (amma_edge.models.backbones.layers); on CUDA it is float16 with loss scaling.
Three variants alternate, repeat by repeat, on one batch of real training samples, so the ratios survive a
noisy shared machine: float32, `--amp` as the trainer runs it, and bfloat16 all the way (the strided
depthwise convolutions in bfloat16 too, as `--amp` ran before). Writes benches/results/train_step.json.
Usage: python benches/bench_train_step.py [DATA] [--model amma-s] [--set decoder=skip ...] [--batch 16,8,4] [--steps 6]
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
from amma_edge.models.backbones.layers import StridedDepthwiseConv2d  # noqa: E402
from amma_edge.train.cli import coerce  # noqa: E402
from amma_edge.train.losses import build_loss, default_loss_config  # noqa: E402
from amma_edge.train.trainer import TrainStep, autocast_dtype, default_train_config, make_datasets  # noqa: E402


def time_precisions(config, batch: dict, dtype: torch.dtype, steps: int) -> dict:
    """Median step time of each variant, the variants alternating step by step."""
    reduced = str(dtype).removeprefix("torch.")
    all_reduced = f"{reduced}_strided_depthwise_too"
    modules = {}
    for name in ("float32", reduced, all_reduced):
        torch.manual_seed(0)
        step = TrainStep(build(config), build_loss(config, default_loss_config(config)))
        modules[name] = (step, torch.optim.Adam(step.parameters(), 1e-3), name != "float32", name != all_reduced)

    def one(name: str) -> float:
        step, optimizer, amp, depthwise_float32 = modules[name]
        StridedDepthwiseConv2d.float32_under_cpu_bfloat16 = depthwise_float32
        try:
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=dtype, enabled=amp):
                losses = step(batch)
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            optimizer.step()
            return time.perf_counter() - started
        finally:
            StridedDepthwiseConv2d.float32_under_cpu_bfloat16 = True

    for name in modules:  # warm-up: oneDNN picks and caches its kernels on the first calls
        one(name), one(name)
    times: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(steps):
        for name in modules:
            times[name].append(one(name))
    median = {name: statistics.median(t) for name, t in times.items()}
    return {"median_step_s": {k: round(v, 3) for k, v in median.items()},
            f"speedup_{reduced}_over_float32": round(median["float32"] / median[reduced], 3),
            f"speedup_{all_reduced}_over_float32": round(median["float32"] / median[all_reduced], 3),
            f"speedup_{reduced}_over_{all_reduced}": round(median[all_reduced] / median[reduced], 3),
            "step_s": {k: [round(x, 3) for x in v] for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("runs/s3/synth-train"))
    parser.add_argument("--model", default="amma-s")
    parser.add_argument("--input-size", default="128x160")
    parser.add_argument("--set", dest="sets", action="append", default=["decoder=skip"])
    parser.add_argument("--batch", default="16,8,4", help="batch sizes, each timed on its own")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per precision")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device("cpu")
    dtype, why_not = autocast_dtype(device)
    if dtype is None:
        sys.exit(f"--amp does nothing here ({why_not}): nothing to compare")

    h, w = (int(v) for v in args.input_size.split("x"))
    base = get_config(args.model)
    overrides = {k: coerce(v, getattr(base, k), k) for k, v in (s.split("=", 1) for s in args.sets)}
    gt, root = load_dataset(args.data)
    config = get_config(args.model, input_size=(h, w), num_classes=len(gt.labels), **overrides)
    train_set, _ = make_datasets(default_train_config(config), config, gt, root)
    result = {
        "bench": "train_step",
        "what": f"one {args.model} training step ({h}x{w}, {', '.join(args.sets)}): forward, loss, backward, Adam; "
                "float32, --amp, and bfloat16 with the strided depthwise convolutions in bfloat16 too, "
                "alternating, per batch size",
        "machine": {"cpus": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__,
                    "platform": platform.platform()},
        "batches": {},
    }
    for size in (int(b) for b in args.batch.split(",")):
        batch = torch.utils.data.default_collate([train_set[i] for i in range(size)])
        result["batches"][str(size)] = time_precisions(config, batch, dtype, args.steps)
        print(size, json.dumps({k: v for k, v in result["batches"][str(size)].items() if k != "step_s"}), flush=True)
    out = Path(__file__).resolve().parent / "results" / "train_step.json"
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
