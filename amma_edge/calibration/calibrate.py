"""The calibration stage: an fp32 export folder + a dataset → an INT8 folder beside it.

    DIR (fp32, `amma-edge export`)          OUT (default DIR-int8)
      encoder.onnx + head.onnx | model.onnx   the same names, Q/DQ INT8 graphs (metadata precision "int8")
      golden/, model.json                     golden/ (ONNX Runtime CPU outputs of the INT8 graphs on the fp32
                                              golden inputs), calibration/<graph>.cache (TensorRT),
                                              model.json, calibration_report.json

Steps: draw calibration inputs from the dataset (`clips`, kept in a `ClipCache`), run each fp32 graph with
every activation exposed and compute one range per tensor (`collect`, `calibrators`), rank the layers by
sensitivity when some are to stay float (`sensitivity`; with `keep_float="auto"` the fewest that keep the
frame-mAP drop within `max_drop` are searched), write the Q/DQ graphs (`qdq`), the TensorRT caches
(`trt_cache`), the golden files and the report: SQNR per output, sizes, CPU latency side by side, and
accuracy through the same streaming evaluation as `amma-edge eval`.

Everything is written into a temporary folder beside OUT and renamed at the end, so a failure leaves nothing
half-written; an existing non-empty OUT is replaced only with `force`.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge import __version__
from amma_edge.calibration.accuracy import Accuracy, evaluate_folder, frame_map_drop
from amma_edge.calibration.calibrators import int8_scale, make_calibrator
from amma_edge.calibration.collect import (
    collect_statistics,
    float_activations,
    ort_session,
    require_onnx,
    tensor_ranges,
)
from amma_edge.calibration.latency import interleaved_latency
from amma_edge.calibration.metrics import json_db, output_sqnr
from amma_edge.calibration.options import RECOMMENDED_SAMPLES, CalibrationOptions
from amma_edge.calibration.qdq import QuantizedModel, find_layers, opset_version, quantize_model
from amma_edge.calibration.reader import ClipCache
from amma_edge.calibration.sensitivity import LayerSensitivity, layer_sensitivity, outputs_sqnr, run_all
from amma_edge.calibration.trt_cache import CACHE_DIR, cache_path, make_cache, write_cache
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.bundle import MODEL_JSON, ModelBundle, load_bundle
from amma_edge.export.golden import Golden, golden_path, load_golden, save_golden
from amma_edge.export.graphs import graph_spec
from amma_edge.export.metadata import write_metadata
from amma_edge.fileio import atomic_write_text, commit_directory
from amma_edge.models.config import AMMAConfig, config_to_dict

Log = Callable[[str], None]
REPORT_FILE = "calibration_report.json"


@dataclass
class CalibrationResult:
    out: Path
    report: dict[str, Any]
    seconds: float
    warnings: list[str] = field(default_factory=list)


def default_out(model_dir: str | os.PathLike) -> Path:
    """The sibling folder `<DIR>-int8`."""
    model_dir = Path(model_dir)
    return model_dir.parent / f"{model_dir.resolve().name}-int8"


def calibrate_model(model_dir: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike | None = None,
                    options: CalibrationOptions | None = None, log: Log | None = None) -> CalibrationResult:
    """Calibrate the fp32 export `model_dir` on the dataset `data` into `out` (see the module docstring).

    `log` gets progress lines and warnings (prefixed "warning: ").
    """
    from amma_edge.data.loading import load_dataset

    options = options or CalibrationOptions()
    say: Log = log or (lambda line: None)
    warnings: list[str] = []

    def warn(text: str) -> None:
        warnings.append(text)
        say(f"warning: {text}")

    started = time.perf_counter()
    model_dir, data = Path(model_dir), Path(data)
    out = Path(out) if out is not None else default_out(model_dir)
    bundle = load_bundle(model_dir)
    require_fp32(bundle)
    check_destination(out, {"model folder": model_dir, "dataset": data, "clip cache": options.cache}, options.force)
    gt, root = load_dataset(data)
    if tuple(gt.labels) != tuple(bundle.class_names):
        raise AmmaEdgeError(f"the model's classes {list(bundle.class_names)} are not the dataset's {list(gt.labels)}: "
                            "calibrate on the data the model was trained for")
    graphs = streaming_graphs(bundle, warn)
    onnx = require_onnx()
    models = {g: onnx.load(str(bundle.path(g))) for g in graphs}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.calibrate-", dir=out.parent))
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.scratch-", dir=out.parent))
    try:
        caches = calibration_inputs(bundle, models, gt, root, data, options, options.cache or scratch / "clips", say)
        counts = {g: int(caches[g].info()["count"]) for g in graphs}
        for graph, n in counts.items():
            if n < RECOMMENDED_SAMPLES:
                short = (f" (the {options.split} split holds only {n})" if n < options.samples else "")
                warn(f"{graph}: calibrating on {n} input(s){short}, fewer than the {RECOMMENDED_SAMPLES} recommended; "
                     "ranges from few clips clip more of what real streams show: pass --samples 512 with a larger "
                     "dataset")

        def reader(graph: str, limit: int | None = None):
            return caches[graph].reader(batch=bundle.batch, limit=limit)

        calibrator = make_calibrator(options.method, options.percentile)
        ranges: dict[str, dict[str, float]] = {}
        for graph in graphs:
            say(f"calibrating {graph} ({calibrator.describe()}) on {counts[graph]} input(s) …")
            names = float_activations(models[graph])
            stats = collect_statistics(models[graph], names, reader(graph), calibrator, bins=options.bins,
                                       threads=options.threads, log=say)
            ranges[graph] = tensor_ranges(stats, calibrator)

        ranking: list[LayerSensitivity] = []

        def rank_layers() -> None:
            for graph in graphs:
                say(f"sensitivity of {graph}: each layer quantized alone, on {options.sensitivity_samples} input(s) …")
                ranking.extend(layer_sensitivity(graph, models[graph], ranges[graph],
                                                 reader(graph, options.sensitivity_samples), threads=options.threads,
                                                 log=say))
            ranking.sort(key=lambda r: r.sqnr_db)

        def quantize_all(float_count: int) -> dict[str, QuantizedModel]:
            keep = [(r.graph, r.layer) for r in ranking[:float_count]]
            return {g: quantize_graph(bundle, g, models[g], ranges[g], [layer for kg, layer in keep if kg == g])
                    for g in graphs}

        eval_videos: list[str] = []
        fp32_accuracy: Accuracy | None = None
        if options.evaluate:
            eval_videos = list(gt.split_videos("test"))[:options.eval_videos]
            if not eval_videos:
                raise AmmaEdgeError(f"{data} has no test videos to measure the accuracy on: pass --no-eval, or a "
                                    "dataset with a test split")
            say(f"evaluating the fp32 model on {len(eval_videos)} test video(s) …")
            fp32_accuracy = evaluate_folder(model_dir, gt, root, eval_videos, threads=options.threads)

        search: list[dict[str, Any]] = []
        if options.keep_float == "auto":
            assert fp32_accuracy is not None
            drops: dict[int, float] = {}

            def drop_with(float_count: int) -> float:
                if float_count not in drops:
                    folder = scratch / f"candidate-{float_count}"
                    write_graphs(folder, quantize_all(float_count), bundle)
                    accuracy = evaluate_folder(folder, gt, root, eval_videos, threads=options.threads)
                    shutil.rmtree(folder, ignore_errors=True)
                    drops[float_count] = drop = frame_map_drop(fp32_accuracy, accuracy)
                    search.append({"float_layers": float_count, "frame_map": finite(accuracy.frame_map),
                                   "drop": finite(drop)})
                    say(f"  {float_count} layer(s) in float: frame-mAP {accuracy.frame_map:.2f}, drop {drop:.2f} "
                        "points")
                return drops[float_count]

            # The ranking costs one pass per layer: it is only needed when the all-INT8 model loses too much.
            if not math.isnan(drop_with(0)) and drop_with(0) <= options.max_drop:
                float_count = 0
            else:
                rank_layers()
                float_count = search_float_count(len(ranking), drop_with, options.max_drop)
                if float_count == len(ranking):
                    warn(f"every layer had to stay float to keep the frame-mAP drop within {options.max_drop} points: "
                         "the INT8 model is the fp32 model; raise --max-drop or calibrate on more data")
        else:
            float_count = int(options.keep_float)
            if float_count:
                rank_layers()
            if float_count > len(ranking):
                warn(f"--keep-float {float_count}: the graphs have only {len(ranking)} quantizable layers; all stay "
                     "float")
                float_count = len(ranking)

        quantized = quantize_all(float_count)
        files = write_graphs(tmp, quantized, bundle)
        say(f"wrote {', '.join(files.values())} ({sum(len(q.layers) for q in quantized.values())} layers INT8, "
            f"{float_count} float)")
        for graph in graphs:
            write_cache(cache_path(tmp, graph), make_cache({t: int8_scale(a) for t, a in ranges[graph].items()},
                                                          options.method, options.trt_version))
        golden = write_golden(tmp, bundle, quantized, graphs, reader, options.threads)

        report = calibration_report(bundle, models, quantized, ranges, reader, counts, ranking, float_count, options,
                                    model_dir, data, out, golden, say)
        if options.evaluate:
            say(f"evaluating the INT8 model on {len(eval_videos)} test video(s) …")
            int8_accuracy = evaluate_folder(tmp, gt, root, eval_videos, threads=options.threads)
            assert fp32_accuracy is not None
            report["accuracy"] = {"split": "test", "videos": len(eval_videos), "fp32": fp32_accuracy.as_dict(),
                                  "int8": int8_accuracy.as_dict(),
                                  "frame_map_drop": finite(frame_map_drop(fp32_accuracy, int8_accuracy))}
        else:
            report["accuracy"] = None
        report["keep_float_search"] = search
        report["warnings"] = list(warnings)
        report["seconds"] = round(time.perf_counter() - started, 2)
        write_manifest(tmp, bundle, quantized, files, report, options, model_dir, data, counts, warnings)
        atomic_write_text(tmp / REPORT_FILE, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        commit_directory(tmp, out, options.force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return CalibrationResult(out, report, time.perf_counter() - started, warnings)


# ------------------------------------------------------------------------------------------------- checks


def require_fp32(bundle: ModelBundle) -> None:
    precisions = {g: m.precision for g, m in bundle.metadata.items()}
    if any(p != "fp32" for p in precisions.values()):
        raise AmmaEdgeError(f"{bundle.root} holds {', '.join(f'{g} ({p})' for g, p in precisions.items())} graphs: "
                            "calibrate the fp32 export folder written by `amma-edge export`")


def streaming_graphs(bundle: ModelBundle, warn: Log) -> tuple[str, ...]:
    if isinstance(bundle.config, AMMAConfig):
        if "fused" in bundle.graphs:
            warn("fused.onnx is not calibrated: the streaming runtime runs encoder + head; OUT holds those two")
        if not {"encoder", "head"} <= set(bundle.graphs):
            raise AmmaEdgeError(f"{bundle.root} has no encoder.onnx + head.onnx pair to calibrate")
        return ("encoder", "head")
    return ("astar",)


def check_destination(out: Path, inputs: Mapping[str, Path | None], force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise AmmaEdgeError(f"--out {out} is a file: pass a folder (it will hold the INT8 graphs)")
    resolved = out.resolve()
    for what, path in inputs.items():
        if path is not None and path.exists() and path.resolve() == resolved:
            raise AmmaEdgeError(f"--out {out} is the {what} itself: choose another folder (default: <model>-int8)")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            shown = ", ".join(sorted(p.name for p in out.iterdir())[:4])
            raise AmmaEdgeError(f"--out {out} is not empty ({shown}…): pass --force to replace it with the new INT8 "
                                "model, or choose another folder")
        for what, path in inputs.items():
            if path is not None and path.exists() and path.resolve().is_relative_to(resolved):
                raise AmmaEdgeError(f"the {what} {path} lies inside --out {out}, which --force would delete: choose "
                                    "another --out")


# -------------------------------------------------------------------------------------------------- steps


def calibration_inputs(bundle: ModelBundle, models: Mapping[str, Any], gt: Any, root: Path, data: Path,
                       options: CalibrationOptions, folder: Path, say: Log) -> dict[str, ClipCache]:
    """The preprocessed calibration inputs of every graph, from `folder` when it already holds them for this
    model, dataset and selection, else drawn from the dataset and stored there."""
    from amma_edge.calibration.clips import (
        clip_counts,
        iter_amma_samples,
        iter_astar_samples,
        split_videos,
        spread_picks,
    )
    from amma_edge.data.frames import FrameReader

    config = bundle.config
    videos = split_videos(gt, options.split, str(data))
    amma = isinstance(config, AMMAConfig)
    lengths = clip_counts(gt, videos, config.clip_hop) if amma else {v: gt.nframes[v] for v in videos}
    picks = spread_picks(lengths, options.samples)
    if not picks:
        unit = f"clip (the first ends at frame {config.clip_hop})" if amma else "frames"
        raise AmmaEdgeError(f"the {options.split} videos of {data} hold no {unit}: pass a dataset with longer videos")
    key = {"checkpoint_sha256": bundle.checkpoint_sha256, "model_config": config_to_dict(config),
           "dataset": str(data.resolve()), "split": options.split,
           "picks": [[p.video, list(p.positions)] for p in picks]}
    graphs = ("encoder", "head") if amma else ("astar",)
    caches = {g: ClipCache(folder, g) for g in graphs}
    if all(c.matches(key) for c in caches.values()):
        say(f"reusing the calibration inputs in {folder}")
        return caches
    total = sum(len(p.positions) for p in picks)
    say(f"drawing {total} calibration input(s) from {len(picks)} {options.split} video(s) of {data} …")
    reader = FrameReader(root, gt)
    writers = {g: caches[g].writer(total) for g in graphs}
    try:
        if amma:
            session = ort_session(models["encoder"].SerializeToString(), options.threads)
            for clip, window in iter_amma_samples(config, reader, picks, encoder_function(session, bundle.batch)):
                writers["encoder"].append(clip)
                writers["head"].append(window)
        else:
            for window in iter_astar_samples(config, reader, picks):
                writers["astar"].append(window)
        for graph, writer in writers.items():
            writer.commit(key, graph_spec(config, graph).input_name)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    finally:
        reader.close()
    return caches


def encoder_function(session: Any, batch: int) -> Callable[[np.ndarray], np.ndarray]:
    """One clip → its feature through the fp32 encoder session (a batch of copies when batch > 1)."""
    name = session.get_inputs()[0].name

    def encode(clip: np.ndarray) -> np.ndarray:
        feed = np.repeat(np.ascontiguousarray(clip, dtype=np.float32)[None], batch, axis=0)
        return session.run(None, {name: feed})[0][0]

    return encode


def quantize_graph(bundle: ModelBundle, graph: str, model: Any, ranges: Mapping[str, float],
                   keep_float: Sequence[str]) -> QuantizedModel:
    """The Q/DQ graph with the fp32 graph's metadata, precision "int8"."""
    quantized = quantize_model(model, ranges, exclude=keep_float)
    meta = bundle.metadata[graph].replace(precision="int8", opset=opset_version(quantized.model),
                                          amma_edge_version=__version__)
    write_metadata(quantized.model, meta)
    return quantized


def write_graphs(folder: Path, quantized: Mapping[str, QuantizedModel], bundle: ModelBundle) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for graph, q in quantized.items():
        name = bundle.path(graph).name
        (folder / name).write_bytes(q.model.SerializeToString())
        files[graph] = name
    return files


def search_float_count(layers: int, drop_with: Callable[[int], float], max_drop: float) -> int:
    """The fewest most-sensitive layers to keep float for a frame-mAP drop <= max_drop.

    Assumes the drop shrinks as more layers stay float: tries 0, 1, 2, 4, … until one passes, then bisects
    between the last failure and it. Keeping every layer float is the fp32 model (no drop) and is not run.
    """
    def passes(n: int) -> bool:
        drop = drop_with(n)
        if math.isnan(drop):
            raise AmmaEdgeError("the frame-mAP is undefined on the evaluation videos (no ground-truth boxes), so "
                                "--keep-float auto cannot measure a drop: pass more --eval-videos or another dataset")
        return drop <= max_drop

    if layers == 0 or passes(0):
        return 0
    failed, count = 0, 1
    while count < layers:
        if passes(count):
            break
        failed, count = count, count * 2
    count = min(count, layers)
    while count - failed > 1:
        middle = (failed + count) // 2
        if passes(middle):
            count = middle
        else:
            failed = middle
    return count


def write_golden(folder: Path, bundle: ModelBundle, quantized: Mapping[str, QuantizedModel], graphs: Sequence[str],
                 reader: Callable[..., Any], threads: int | None) -> dict[str, dict[str, Any]]:
    """golden/<graph>.npz: the INT8 graph's ONNX Runtime CPU outputs on the fp32 golden inputs (or on the first
    calibration input when the fp32 folder has none). Returns per graph the kind of golden input and the SQNR
    per output against the fp32 (PyTorch) golden outputs."""
    import onnxruntime

    sqnr = {}
    for graph in graphs:
        session = ort_session(quantized[graph].model.SerializeToString(), threads)
        names = [o.name for o in session.get_outputs()]
        fp32_file = bundle.golden(graph)
        if fp32_file is not None:
            fp32 = load_golden(fp32_file)
            inputs, source = fp32.inputs, dict(fp32.source)
        else:
            fp32, inputs, source = None, reader(graph).get_next(), {"kind": "calibration input", "index": 0}
        outputs = dict(zip(names, session.run(names, dict(inputs))))
        source.update(reference="onnxruntime", provider="CPUExecutionProvider", precision="int8",
                      onnxruntime_version=onnxruntime.__version__, fp32_reference=source.get("reference"))
        save_golden(golden_path(folder, graph), Golden(graph, inputs, outputs, source))
        if fp32 is not None:  # on a random golden input (an export without --data) this says little
            sqnr[graph] = {"input": str(source.get("kind")), "sqnr_db": {k: json_db(v) for k, v in
                                                                       output_sqnr([(fp32.outputs, outputs)]).items()}}
    return sqnr


def calibration_report(bundle: ModelBundle, models: Mapping[str, Any], quantized: Mapping[str, QuantizedModel],
                       ranges: Mapping[str, Mapping[str, float]], reader: Callable[..., Any], counts: Mapping[str, int],
                       ranking: Sequence[LayerSensitivity], float_count: int, options: CalibrationOptions,
                       model_dir: Path, data: Path, out: Path, golden: Mapping[str, Any],
                       say: Log) -> dict[str, Any]:
    import onnxruntime

    graphs: dict[str, Any] = {}
    for graph, q in quantized.items():
        say(f"measuring {graph}: SQNR against fp32, CPU latency …")
        fp32_bytes = models[graph].SerializeToString()
        int8_bytes = q.model.SerializeToString()
        fp32_session = ort_session(fp32_bytes, options.threads)
        samples = reader(graph, options.report_samples)
        sqnr = outputs_sqnr(run_all(fp32_session, samples), ort_session(int8_bytes, options.threads), samples)
        feed = reader(graph).get_next()
        latency = interleaved_latency({"fp32": fp32_bytes, "int8": int8_bytes}, feed, runs=options.latency_runs,
                                      threads=options.threads)
        graphs[graph] = {
            "file": bundle.path(graph).name,
            "layers": len(find_layers(models[graph])),
            "int8_layers": len(q.layers),
            "float_layers": list(q.float_layers),
            "quantized_activations": len(q.activation_scales),
            "calibrated_tensors": len(ranges[graph]),
            "samples": counts[graph],
            "sqnr_db": {k: json_db(v) for k, v in sqnr.items()},
            "sqnr_samples": samples.sample_count,
            "golden": golden.get(graph),  # SQNR against the fp32 golden outputs, and what input it was
            "bytes": {"fp32": len(fp32_bytes), "int8": len(int8_bytes)},
            "latency_ms": {"fp32": round(latency["fp32"], 3), "int8": round(latency["int8"], 3),
                           "runs": options.latency_runs, "threads": options.threads,
                           "provider": "CPUExecutionProvider"},
        }
    return {
        "model": str(model_dir),
        "out": str(out),
        "dataset": str(data),
        "split": options.split,
        "method": options.method,
        "percentile": options.percentile if options.method == "percentile" else None,
        "bins": options.bins,
        "recommended_samples": RECOMMENDED_SAMPLES,
        "keep_float": options.keep_float,
        "max_drop": options.max_drop if options.keep_float == "auto" else None,
        "float_layers": [{"graph": r.graph, "layer": r.layer} for r in ranking[:float_count]],
        "graphs": graphs,
        "sensitivity": [r.as_dict() for r in ranking],
        "tensorrt_caches": {g: f"{CACHE_DIR}/{g}.cache" for g in quantized},
        "tensorrt_cache_version": options.trt_version,
        "versions": {"amma_edge": __version__, "onnxruntime": onnxruntime.__version__,
                     "onnx": require_onnx().__version__, "numpy": np.__version__},
    }


def write_manifest(folder: Path, bundle: ModelBundle, quantized: Mapping[str, QuantizedModel],
                   files: Mapping[str, str], report: Mapping[str, Any], options: CalibrationOptions, model_dir: Path,
                   data: Path, counts: Mapping[str, int], warnings: Sequence[str]) -> None:
    """model.json: the fp32 folder's manifest with precision int8, these graphs and the calibration settings."""
    first = bundle.first
    manifest: dict[str, Any] = dict(bundle.manifest or {
        "family": first.family, "model_config": config_to_dict(first.model_config),
        "class_names": list(first.class_names), "batch": bundle.batch, "checkpoint_sha256": first.checkpoint_sha256})
    if "parity" in manifest:
        manifest["fp32_parity"] = manifest.pop("parity")
    graphs = {}
    for graph, q in quantized.items():
        meta = bundle.metadata[graph]
        graphs[graph] = {
            "file": files[graph],
            "golden": golden_path("", graph).as_posix(),
            "calibration_cache": f"{CACHE_DIR}/{graph}.cache",
            "inputs": {k: list(v) for k, v in meta.inputs.items()},
            "outputs": {k: list(v) for k, v in meta.outputs.items()},
            "output_layout": dict(meta.output_layout),
            "bytes": (folder / files[graph]).stat().st_size,
            "nodes": len(q.model.graph.node),
            "int8_layers": len(q.layers),
            "float_layers": list(q.float_layers),
            "sqnr_db": report["graphs"][graph]["sqnr_db"],
        }
    manifest.update(
        precision="int8",
        opset=max(opset_version(q.model) for q in quantized.values()),
        amma_edge_version=__version__,
        graphs=graphs,
        files=[g["file"] for g in graphs.values()] + [g["golden"] for g in graphs.values()]
        + [g["calibration_cache"] for g in graphs.values()] + [MODEL_JSON, REPORT_FILE],
        calibration={"fp32_model": str(model_dir), "dataset": str(data), "split": options.split,
                     "method": options.method, "percentile": report["percentile"], "bins": options.bins,
                     "samples": dict(counts), "keep_float": options.keep_float, "max_drop": report["max_drop"],
                     "float_layers": report["float_layers"], "activations": "int8 symmetric, zero point 0",
                     "weights": "int8 symmetric per output channel", "tensorrt_cache_version": options.trt_version,
                     "report": REPORT_FILE},
        warnings=list(manifest.get("warnings") or []) + list(warnings),
        calibrated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    atomic_write_text(folder / MODEL_JSON, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)


__all__ = ["REPORT_FILE", "CalibrationResult", "calibrate_model", "check_destination", "default_out",
           "search_float_count"]
