"""How many frames per second this CPU could reach on AMMA-S at all: the compute ceiling behind the runtime target.

A streaming AMMA clip costs one encoder pass and one head pass (E + H multiply-adds, counted by
`amma_edge.models.complexity`). No runtime can be faster than the machine's best dense matrix multiply, so

    ceiling FPS = t · (GEMM multiply-adds per second) / (E + H)

is an upper bound for any engine on these cores, far above what convolutions with depthwise layers, channel
shuffles and small spatial maps reach. Measured here, side by side in one process: fp32 GEMM (PyTorch, MKL /
oneDNN) and INT8 GEMM (ONNX Runtime `MatMulInteger`, uint8 × int8 → int32: the VNNI kernels its quantized
convolutions run on), 1 and 2 threads, large square matrices. Compared with the measured end-to-end FPS of
benches/results/runtime*.json when present.

    .venv/bin/python benches/bench_ceiling.py [--size 1536] [--repeats 10]

Writes benches/results/ceiling.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amma_edge.bench.machine import cpu_model  # noqa: E402
from amma_edge.fileio import atomic_write_text  # noqa: E402

TARGET_FPS = 400.0


def best_seconds(run, repeats: int) -> float:
    """Fastest of `repeats` calls after one warm-up: the machine's capability, not its background load."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def fp32_gemm_macs_per_s(n: int, threads: int, repeats: int) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    return n**3 / best_seconds(lambda: torch.mm(a, b, out=out), repeats)


def int8_gemm_macs_per_s(n: int, threads: int, repeats: int) -> float:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])], "gemm",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n]),
         helper.make_tensor_value_info("b", TensorProto.INT8, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"a": rng.integers(0, 255, (n, n), dtype=np.uint8), "b": rng.integers(-127, 127, (n, n), dtype=np.int8)}
    return n**3 / best_seconds(lambda: session.run(None, feed), repeats)


def stream_macs() -> tuple[int, int, dict]:
    from amma_edge.models import get_config
    from amma_edge.models.complexity import measure

    config = get_config("amma-s", num_classes=8)
    m = measure(config)
    return m.encoder_macs, m.head_macs, {"model": "amma-s", "input_size": list(config.input_size), "K": config.K,
                                         "t": config.t, "classes": 8}


def measured_runs() -> dict:
    """End-to-end FPS already measured by bench_runtime.py, for the comparison row."""
    found = {}
    for path in sorted((Path(__file__).parent / "results").glob("runtime*.json")):
        report = json.loads(path.read_text())
        threads = report.get("threads_per_engine")
        for name, row in report.get("end_to_end", {}).items():
            found[f"{path.name}:{name}"] = {"fps": row["fps"], "threads_per_engine": threads}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1536, help="square GEMM size")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ceiling.json"))
    args = parser.parse_args()

    encoder, head, setting = stream_macs()
    per_clip = encoder + head
    gemm = {}
    for threads in (1, 2):
        gemm[str(threads)] = {
            "fp32_gmacs_per_s": round(fp32_gemm_macs_per_s(args.size, threads, args.repeats) / 1e9, 1),
            "int8_gmacs_per_s": round(int8_gemm_macs_per_s(args.size, threads, args.repeats) / 1e9, 1),
        }
    cores = str(min(2, os.cpu_count() or 1))
    ceiling = {kind: round(setting["t"] * gemm[cores][f"{kind}_gmacs_per_s"] * 1e9 / per_clip, 1)
               for kind in ("fp32", "int8")}
    needed = TARGET_FPS / setting["t"] * per_clip / 1e9
    result = {
        "bench": "ceiling",
        "what": "upper bound on AMMA-S streaming FPS from the best measured GEMM throughput (min of repeats); "
                "ceiling_fps = t * GEMM MACs/s / (encoder + head MACs per clip)",
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_1m": round(os.getloadavg()[0], 2)},
        "setting": setting,
        "macs_per_clip": {"encoder": encoder, "head": head, "total": per_clip},
        "gemm_size": args.size,
        "gemm": gemm,
        "ceiling_fps_at_100pct_gemm": ceiling,
        "target_fps": TARGET_FPS,
        "gmacs_per_s_the_target_needs": round(needed, 1),
        "target_share_of_best_int8_gemm": round(needed / gemm[cores]["int8_gmacs_per_s"], 2),
        "measured_end_to_end": measured_runs(),
    }
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("gemm", "ceiling_fps_at_100pct_gemm", "gmacs_per_s_the_target_needs",
                                              "target_share_of_best_int8_gemm")}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
