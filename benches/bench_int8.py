"""INT8 against fp32 on ONNX Runtime CPU: latency of the encoder and the head, side by side, and the accuracy
delta when a dataset is given.

Variants of each graph, all run interleaved in one process (one inference of each per round, so background
load slows them alike), with 1 and 2 intra-op threads:

  fp32            the export's graph
  int8            the calibrated graph as shipped: TensorRT's explicit quantization (signed INT8, zero point 0,
                  Q/DQ on the inputs of weighted layers only)
  int8+out        the same scales, plus Q/DQ on the layer outputs: the DQ → Conv → Q pattern ONNX Runtime
                  fuses into QLinearConv
  u8+out          as int8+out with unsigned activations (zero point 128): the U8S8 kernels ONNX Runtime's x86
                  code is fastest with

The last two are built here from the fp32 graph and the INT8 folder's TensorRT calibration cache (which
holds a range for every tensor), leaving the same layers float; they are for comparison only.

Default: an untrained AMMA-S (288×288, K = 3, t = 4, the synthetic dataset's 8 classes) exported into a temp
folder and calibrated on a small synthetic dataset made here (an untrained model is as fast as a trained
one; its accuracy means nothing, so no accuracy is reported). Or real folders:

    nice -n 19 .venv/bin/python benches/bench_int8.py [--runs 30]
    .venv/bin/python benches/bench_int8.py --model amma_edge/demo/model --int8 amma_edge/demo/model-int8 \
        --data runs/synthetic/synth-test [--eval-videos 10]

Writes benches/results/int8.json (or --out).
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
from typing import Any

import numpy as np

from amma_edge.fileio import atomic_write_text

VARIANTS = ("fp32", "int8", "int8+out", "u8+out")


def machine() -> dict[str, Any]:
    import onnxruntime

    from amma_edge.bench.machine import cpu_model

    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() == "flags":
                flags = sorted(set(line.split(":", 1)[1].split()) & {"avx2", "avx512f", "avx512_vnni", "avx_vnni"})
                break
    except OSError:
        pass
    return {"cpu": cpu_model(), "cpu_flags": flags, "cores": os.cpu_count(), "system": platform.platform(),
            "python": platform.python_version(), "onnxruntime": onnxruntime.__version__, "numpy": np.__version__,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def default_setup(root: Path, samples: int, say) -> tuple[Path, Path, dict[str, Any]]:
    """An untrained AMMA-S export and its INT8 calibration on a small synthetic dataset, in `root`."""
    import torch

    from amma_edge.calibration.calibrate import calibrate_model
    from amma_edge.calibration.options import CalibrationOptions
    from amma_edge.data.synth import CLASSES, SynthConfig, write_dataset
    from amma_edge.export.exporter import ExportOptions, export_model
    from amma_edge.models import build, get_config
    from amma_edge.models.config import config_to_dict
    from amma_edge.train.checkpoint import save_checkpoint

    config = get_config("amma-s", num_classes=len(CLASSES))
    torch.manual_seed(0)
    checkpoint = save_checkpoint(root / "amma-s.pt", {"model_config": config_to_dict(config),
                                                      "class_names": list(CLASSES),
                                                      "model": build(config).eval().state_dict(), "metrics": {}})
    say("exporting an untrained AMMA-S 288×288 …")
    model = export_model(checkpoint, root / "model", ExportOptions()).out
    synth = SynthConfig(videos=8, seed=0, width=320, height=240, test_fraction=0.25, min_frames=40, max_frames=60)
    say("writing a synthetic dataset …")
    write_dataset(root / "data", synth, workers=1)
    say(f"calibrating on {samples} clips …")
    started = time.perf_counter()
    options = CalibrationOptions(samples=samples, evaluate=False, latency_runs=3, report_samples=8)
    calibrated = calibrate_model(model, root / "data", root / "model-int8", options, log=lambda line: None)
    setup = {"model": "amma-s, untrained (seed 0)", "input_size": list(config.input_size), "K": config.K,
             "t": config.t, "classes": len(CLASSES), "dataset": {"videos": synth.videos, "size": "320x240",
                                                                 "frames": "40-60", "seed": synth.seed},
             "calibration": {"method": options.method, "samples": samples,
                             "seconds": round(time.perf_counter() - started, 1),
                             "sqnr_db_on_calibration_inputs": {g: r["sqnr_db"] for g, r in
                                                                calibrated.report["graphs"].items()},
                             "warnings": calibrated.warnings}}
    return model, calibrated.out, setup


def variants(model_dir: Path, int8_dir: Path, graph: str) -> dict[str, bytes]:
    import onnx

    from amma_edge.calibration.qdq import QDQOptions, quantize_model
    from amma_edge.calibration.trt_cache import cache_path, read_cache
    from amma_edge.export.bundle import load_bundle

    fp32 = onnx.load(str(load_bundle(model_dir).path(graph)))
    shipped = load_bundle(int8_dir).path(graph)
    ranges = read_cache(cache_path(int8_dir, graph)).amax()
    manifest = json.loads((int8_dir / "model.json").read_text())
    keep = manifest["graphs"][graph].get("float_layers", [])
    out = {"fp32": fp32.SerializeToString(), "int8": shipped.read_bytes()}
    for label, kind in (("int8+out", "int8"), ("u8+out", "uint8")):
        q = quantize_model(fp32, ranges, exclude=keep, options=QDQOptions(activation_type=kind, quantize_outputs=True))
        out[label] = q.model.SerializeToString()
    return out


def golden_feed(model_dir: Path, graph: str) -> dict[str, np.ndarray]:
    """The input timed: the export's golden input (values do not change CPU latency)."""
    from amma_edge.export.bundle import load_bundle
    from amma_edge.export.golden import load_golden
    from amma_edge.export.graphs import graph_spec

    bundle = load_bundle(model_dir)
    golden = bundle.golden(graph)
    if golden is not None:
        return dict(load_golden(golden).inputs)
    spec = graph_spec(bundle.config, graph, bundle.batch)
    return {spec.input_name: np.random.default_rng(0).normal(size=spec.inputs[spec.input_name]).astype(np.float32)}


def real_feeds(model_dir: Path, data: Path, count: int) -> dict[str, list[dict[str, np.ndarray]]]:
    """Feeds from `count` test clips of `data`, preprocessed as the runtime does: the encoder's clips, and the
    head's K features of them from the fp32 encoder (the feature cache's content); A*'s windows."""
    from amma_edge.calibration.collect import ort_session
    from amma_edge.export.bundle import load_bundle
    from amma_edge.export.samples import dataset_samples
    from amma_edge.models.config import AMMAConfig

    bundle = load_bundle(model_dir)
    samples = dataset_samples(bundle.config, data, count)
    batch = lambda a: np.repeat(np.ascontiguousarray(a, np.float32)[None], bundle.batch, axis=0)  # noqa: E731
    if not isinstance(bundle.config, AMMAConfig):
        return {"astar": [{"clip": batch(s.frames)} for s in samples]}
    encoder = ort_session(bundle.path("encoder").read_bytes(), 1)
    clips = [[batch(c) for c in s.frames] for s in samples]
    features = [np.stack([encoder.run(None, {"clip": c})[0][0] for c in sample]) for sample in clips]
    return {"encoder": [{"clip": c} for sample in clips for c in sample],
            "head": [{"features": batch(f)} for f in features]}


def measure_graph(models: dict[str, bytes], feed: dict[str, np.ndarray], accuracy_feeds: list[dict[str, np.ndarray]],
                  runs: int, threads: list[int]) -> dict:
    from amma_edge.calibration.collect import ort_session
    from amma_edge.calibration.latency import interleaved_latency
    from amma_edge.calibration.metrics import SQNR, json_db

    fp32 = ort_session(models["fp32"], 1)
    reference = [fp32.run(None, f) for f in accuracy_feeds]
    sqnr: dict[str, Any] = {}
    unfused: dict[str, Any] = {}
    for label, data in models.items():
        if label == "fp32":
            continue
        for target, optimize in ((sqnr, True), (unfused, False)):
            session = ort_session(data, 1, optimize=optimize)
            acc: dict[int, SQNR] = {}
            for ref, f in zip(reference, accuracy_feeds):
                for index, (r, g) in enumerate(zip(ref, session.run(None, f))):
                    acc.setdefault(index, SQNR()).add(r, g)
            target[label] = json_db(min(a.db for a in acc.values()))
    result: dict[str, Any] = {"bytes": {k: len(v) for k, v in models.items()}, "sqnr_db_worst_output": sqnr,
                              "sqnr_db_worst_output_without_ort_fusion": unfused,
                              "sqnr_inputs": len(accuracy_feeds), "threads": {}}
    for n in threads:
        ms = interleaved_latency(models, feed, runs=runs, threads=n)
        result["threads"][str(n)] = {"median_ms": {k: round(v, 3) for k, v in ms.items()},
                                     "speedup_vs_fp32": {k: round(ms["fp32"] / v, 3) for k, v in ms.items()
                                                         if k != "fp32"}}
    return result


def accuracy(model_dir: Path, int8_dir: Path, data: Path, eval_videos: int | None) -> dict[str, Any]:
    from amma_edge.calibration.accuracy import evaluate_folder, frame_map_drop
    from amma_edge.data.loading import load_dataset

    gt, root = load_dataset(data)
    videos = list(gt.split_videos("test"))[:eval_videos]
    fp32 = evaluate_folder(model_dir, gt, root, videos)
    int8 = evaluate_folder(int8_dir, gt, root, videos)
    drop = frame_map_drop(fp32, int8)
    return {"dataset": str(data), "split": "test", "videos": len(videos), "fp32": fp32.as_dict(),
            "int8": int8.as_dict(), "frame_map_drop": None if np.isnan(drop) else round(drop, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="fp32 export folder (with --int8)")
    parser.add_argument("--int8", type=Path, help="its `amma-edge calibrate` folder (with --model)")
    parser.add_argument("--data", type=Path, help="dataset for the accuracy delta on its test split")
    parser.add_argument("--eval-videos", type=int, default=None, help="only the first N test videos")
    parser.add_argument("--samples", type=int, default=64, help="calibration clips of the default setup")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per variant and thread count")
    parser.add_argument("--sqnr-clips", type=int, default=4, help="test clips of the data for the SQNR")
    parser.add_argument("--threads", default="1,2", help="intra-op thread counts, comma-separated")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "int8.json")
    args = parser.parse_args(argv)
    if (args.model is None) != (args.int8 is None):
        parser.error("--model and --int8 go together (or neither, for the default untrained AMMA-S)")
    threads = [int(t) for t in args.threads.split(",")]
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        setup = None
        model_dir, int8_dir = args.model, args.int8
        if model_dir is None:
            model_dir, int8_dir, setup = default_setup(Path(tmp), args.samples, say)
        from amma_edge.export.bundle import load_bundle

        graphs = list(load_bundle(int8_dir).graphs)
        data = args.data or (Path(tmp) / "data" if setup else None)
        feeds = real_feeds(model_dir, data, args.sqnr_clips) if data else \
            {g: [golden_feed(model_dir, g)] for g in graphs}
        results = {}
        for graph in graphs:
            say(f"timing {graph}: {', '.join(VARIANTS)} × threads {threads}, {args.runs} runs …")
            results[graph] = measure_graph(variants(model_dir, int8_dir, graph), golden_feed(model_dir, graph),
                                           feeds[graph], args.runs, threads)
        report = {
            "benchmark": "int8",
            "what": "ONNX Runtime CPU latency (median ms, interleaved runs) of fp32 and INT8 variants per graph; "
                    "speedup = fp32 ms / variant ms; sqnr_db_worst_output: SQNR of the worst output against fp32 "
                    "on test clips of the data (the export's golden input when there is no data), as timed (ONNX "
                    "Runtime's full optimisation, which fuses DQ → Conv → Q into its INT8 kernels) and with every "
                    "optimisation off (each Q/DQ node run as written: the numbers TensorRT's Q/DQ semantics give)",
            "sqnr_data": str(args.data) if args.data else ("default setup's synthetic test split" if setup
                                                           else "golden input"),
            "variants": {"fp32": "the export", "int8": "shipped Q/DQ (TensorRT explicit quantization, S8S8, "
                         "inputs of weighted layers)", "int8+out": "int8 plus Q/DQ on layer outputs",
                         "u8+out": "int8+out with uint8 activations (zero point 128)"},
            "machine": machine(),
            "model": str(args.model) if args.model else None,
            "int8": str(args.int8) if args.int8 else None,
            "default_setup": setup,
            "runs": args.runs,
            "graphs": results,
            "accuracy": accuracy(model_dir, int8_dir, args.data, args.eval_videos) if args.data else None,
            "seconds": round(time.perf_counter() - started, 1),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")
    for graph, r in results.items():
        for n, t in r["threads"].items():
            ms = ", ".join(f"{k} {v:.2f} ms" for k, v in t["median_ms"].items())
            print(f"{graph} ({n} thread{'s' if n != '1' else ''}): {ms}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
