"""One training step (forward, loss, backward, optimizer update) in several variants, side by side.

AMMA: float32; `--amp` as the trainer runs it (on a CPU bfloat16 autocast through oneDNN's AVX512-BF16 / AMX
kernels, the stride-2 depthwise convolutions kept in float32, amma_edge.models.backbones.layers); and
bfloat16 all the way (the strided depthwise convolutions in bfloat16 too, as `--amp` ran before).
A* (X3D): float32 and `--amp`. `--variants layout` (AMMA): `--amp` as is, with the weights in channels-last
memory format (oneDNN's preferred layout for 2-D convolutions), and with the whole step under torch.compile
(inductor, C++ on the CPU); its compile time is in `first_two_steps_s`, outside the medians.
`--variants learn_clips`: the encoder learning through 1 of the K = 3 clips (TrainStep's learn_clips), and
K = 5 learning through 1 or 2. `--variants head`: the center branch with 2 or 3 convolutions (center_depth).
The variants alternate, repeat by repeat, on one batch of real training samples, so the ratios survive a
noisy shared machine. Writes benches/results/train_step.json (AMMA) or train_step_astar.json (A*).
Usage: python benches/bench_train_step.py [DATA] [--model amma-s] [--set decoder=skip ...] [--batch 16,8,4] [--steps 6]
                                          [--variants amma|astar|layout|learn_clips|head] [--out NAME.json]
       python benches/bench_train_step.py --model astar-x3dm --input-size 128x128 --set width=0.5 --set clip_len=8 --batch 8
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Variant:
    name: str
    amp: bool  # autocast to the device's reduced precision
    float32_strided_depthwise: bool  # StridedDepthwiseConv2d stays float32 under CPU bfloat16 autocast
    channels_last: bool = False  # 4-D weights (and so the activations they make) in NHWC memory order
    compile: bool = False  # the step (model and loss) under torch.compile
    learn_clips: int = 0  # the encoder learns through this many of the K clips; the rest without autograd
    K: int = 0  # clips per sample, 0: the model's
    center_depth: int = 0  # 3×3 convolutions in the head's center branch, 0: the model's


VARIANTS = {
    "amma": (Variant("float32", False, True), Variant("bfloat16", True, True),
             Variant("bfloat16_strided_depthwise_too", True, False)),
    "astar": (Variant("float32", False, True), Variant("bfloat16", True, True)),
    "layout": (Variant("bfloat16", True, True), Variant("bfloat16_channels_last", True, True, channels_last=True),
               Variant("bfloat16_compiled", True, True, compile=True)),
    "learn_clips": (Variant("bfloat16", True, True), Variant("bfloat16_learn_1_of_3", True, True, learn_clips=1),
                    Variant("bfloat16_K5_learn_1_of_5", True, True, learn_clips=1, K=5),
                    Variant("bfloat16_K5_learn_2_of_5", True, True, learn_clips=2, K=5)),
    "head": (Variant("bfloat16", True, True), Variant("bfloat16_center_depth_2", True, True, center_depth=2),
             Variant("bfloat16_center_depth_3", True, True, center_depth=3)),
}


def time_variants(config, batches: dict, dtype: torch.dtype, variants: tuple[Variant, ...], steps: int) -> dict:
    """Median step time of each variant, the variants alternating step by step; speed-ups over the first.

    `batches` maps a variant's K (0: the model's) to the batch it trains on."""
    modules = {}
    for v in variants:
        torch.manual_seed(0)
        cfg = dataclasses.replace(config, K=v.K) if v.K else config
        cfg = dataclasses.replace(cfg, center_depth=v.center_depth) if v.center_depth else cfg
        step = TrainStep(build(cfg), build_loss(cfg, default_loss_config(cfg)), v.learn_clips)
        if v.channels_last:
            step = step.to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(step.parameters(), 1e-3)
        modules[v.name] = (v, torch.compile(step) if v.compile else step, optimizer, batches[v.K])

    def one(name: str) -> float:
        v, step, optimizer, batch = modules[name]
        StridedDepthwiseConv2d.float32_under_cpu_bfloat16 = v.float32_strided_depthwise
        try:
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=dtype, enabled=v.amp):
                losses = step(batch)
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            optimizer.step()
            return time.perf_counter() - started
        finally:
            StridedDepthwiseConv2d.float32_under_cpu_bfloat16 = True

    first_two: dict[str, float] = {}
    for name in modules:  # warm-up: oneDNN picks and caches its kernels on the first calls; compiling happens here
        started = time.perf_counter()
        one(name), one(name)
        first_two[name] = round(time.perf_counter() - started, 2)
    times: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(steps):
        for name in modules:
            times[name].append(one(name))
    median = {name: statistics.median(t) for name, t in times.items()}
    first = variants[0].name
    return {"median_step_s": {k: round(v, 3) for k, v in median.items()},
            "speedup_over": first,
            "speedup": {k: round(median[first] / v, 3) for k, v in median.items() if k != first},
            "first_two_steps_s": first_two,
            "step_s": {k: [round(x, 3) for x in v] for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("runs/s3/synth-train"))
    parser.add_argument("--model", default="amma-s")
    parser.add_argument("--input-size", default="128x160")
    parser.add_argument("--set", dest="sets", action="append", default=None,
                        help="model setting KEY=VALUE; AMMA defaults to decoder=skip")
    parser.add_argument("--batch", default="16,8,4", help="batch sizes, each timed on its own")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", choices=sorted(VARIANTS), default=None,
                        help="which set of variants (default: the model family's)")
    parser.add_argument("--out", default=None, help="result file name under benches/results/")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device("cpu")
    dtype, why_not = autocast_dtype(device)
    if dtype is None:
        sys.exit(f"--amp does nothing here ({why_not}): nothing to compare")

    h, w = (int(v) for v in args.input_size.split("x"))
    base = get_config(args.model)
    if args.sets is None:
        args.sets = ["decoder=skip"] if base.family == "amma" else []
    overrides = {k: coerce(v, getattr(base, k), k) for k, v in (s.split("=", 1) for s in args.sets)}
    gt, root = load_dataset(args.data)
    config = get_config(args.model, input_size=(h, w), num_classes=len(gt.labels), **overrides)
    train_set, _ = make_datasets(default_train_config(config), config, gt, root)
    variants = VARIANTS[args.variants or config.family]
    if any(v.channels_last or v.compile for v in variants) and config.family != "amma":
        sys.exit("--variants layout is for the AMMA models (2-D convolutions); A* has 3-D ones")
    result = {
        "bench": "train_step",
        "what": f"one {args.model} training step ({h}x{w}, {', '.join(args.sets)}): forward, loss, backward, Adam; "
                f"variants {', '.join(v.name for v in variants)} alternating, per batch size (see the bench's "
                "docstring)",
        "variants": [dataclasses.asdict(v) for v in variants],
        "machine": {"cpus": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__,
                    "platform": platform.platform()},
        "batches": {},
    }
    for size in (int(b) for b in args.batch.split(",")):
        batches = {}
        for k in sorted({v.K for v in variants}):
            cfg = dataclasses.replace(config, K=k) if k else config
            samples, _ = (train_set, None) if not k else make_datasets(default_train_config(cfg), cfg, gt, root)
            batches[k] = torch.utils.data.default_collate([samples[i] for i in range(size)])
        result["batches"][str(size)] = time_variants(config, batches, dtype, variants, args.steps)
        print(size, json.dumps({k: v for k, v in result["batches"][str(size)].items() if k != "step_s"}), flush=True)
    name = args.out or ("train_step.json" if config.family == "amma" else f"train_step_{config.family}.json")
    out = Path(__file__).resolve().parent / "results" / name
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
