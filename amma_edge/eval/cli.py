"""`amma-edge eval`: a checkpoint or an exported model, streamed over a dataset split, scored as the papers do."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import click

from amma_edge.errors import AmmaEdgeError
from amma_edge.eval.progress import VideoProgress


@click.command("eval")
@click.option("--model", "model_path", required=True, type=click.Path(path_type=Path),
              help="A checkpoint from `amma-edge train` (best.pt) or a folder / .onnx from `amma-edge export`.")
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Dataset folder (`amma-edge data synth` / `data convert`) or a published .pkl.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]),
              help="Which split's videos to score.")
@click.option("--split-index", default=0, show_default=True, help="Which of the dataset's splits (JHMDB has 3).")
@click.option("--protocol", default="act", show_default=True, type=click.Choice(["act", "voc"]),
              help="act: ACT/MOC/AMMA (trapezoid AP, per-frame NMS); voc: all-point interpolated AP (YOWO).")
@click.option("--trim", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Trim each linked tube in time to its run of tubelets with the largest sum of score - TRIM x "
                   "its best score (0: whole tubes, as the papers report). Helps video-mAP on untrimmed videos.")
@click.option("--max-videos", type=click.IntRange(min=1), default=None, help="Score only the first N videos.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for eval.json and pr_curve.png. Default: beside the model, eval-<split>/.")
@click.option("--plot/--no-plot", default=True, show_default=True, help="Save the precision-recall plot PNG.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where a PyTorch checkpoint runs.")
@click.option("--backend", type=click.Choice(["ort", "trt", "torch"]), default=None,
              help="Engine to run the model with. Default: from the file (.onnx → ort, .engine → trt, .pt → torch).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads per engine.")
@click.option("--force", is_flag=True, help="Replace the results of an earlier evaluation in --out.")
def eval_command(model_path: Path, data: Path, split: str, split_index: int, protocol: str, trim: float,
                 max_videos: int | None, out: Path | None, plot: bool, device: str, backend: str | None,
                 threads: int | None, force: bool) -> None:
    """Score a model with frame-mAP and video-mAP through the streaming path the device runs."""
    from amma_edge.data.loading import load_dataset
    from amma_edge.eval.detector import load_detector
    from amma_edge.eval.evaluate import evaluate_amma, evaluate_astar
    from amma_edge.eval.report import per_class_table, summary_table
    from amma_edge.fileio import atomic_write_text
    from amma_edge.runtime.linking import LinkerConfig

    out = out or (model_path if model_path.is_dir() else model_path.parent) / f"eval-{split}"
    if (out / "eval.json").exists() and not force:
        raise AmmaEdgeError(f"{out / 'eval.json'} holds an earlier evaluation: pass another --out, or --force to "
                            "replace it")
    detector = load_detector(model_path, device=device, backend=backend, threads=threads)
    gt, root = load_dataset(data)
    if tuple(gt.labels) != tuple(detector.class_names):
        raise AmmaEdgeError(f"the model's classes {list(detector.class_names)} are not the dataset's "
                            f"{list(gt.labels)}: evaluate on the data it was trained for")
    videos = gt.split_videos(split, split_index)
    if not videos:
        raise AmmaEdgeError(f"{data} has no {split} videos in split {split_index}")
    videos = videos[:max_videos] if max_videos else videos

    linker = LinkerConfig(trim=trim)
    started = time.perf_counter()

    progress = VideoProgress(click.get_text_stream("stderr"))

    if detector.detect is not None:
        result = evaluate_astar(detector.detect, detector.config, root, gt, videos=videos,  # type: ignore[arg-type]
                                protocol=protocol, linker=linker, on_video=progress)
    else:
        result = evaluate_amma(detector.encode, detector.head, detector.config, root, gt,  # type: ignore[arg-type]
                               videos=videos, protocol=protocol, linker=linker, on_video=progress)
    seconds = time.perf_counter() - started
    progress.close()

    out.mkdir(parents=True, exist_ok=True)
    report = {"model": str(model_path), "engine": detector.source, "data": str(data), "split": split, "split_index": split_index,
              "protocol": protocol, "linker": dataclasses.asdict(linker), "seconds": round(seconds, 2),
              **result.as_dict()}
    json_path = atomic_write_text(out / "eval.json", json.dumps(report, indent=2) + "\n")
    click.echo(per_class_table(result))
    click.echo("")
    click.echo(summary_table(result))
    click.echo(f"\n{result.videos} videos, {result.frames_scored} frames scored in {seconds:.1f} s; wrote {json_path}")
    if plot:
        from amma_edge.eval.curves import frame_pr_curves
        from amma_edge.eval.plot import save_pr_plot

        curves = frame_pr_curves(result.detections, gt, videos=videos, protocol=protocol)
        title = (f"{Path(model_path).name} on {Path(data).name}/{split}: frame-mAP@0.5 "
                 f"{result.frame.mean_ap:.1f} ({protocol})")
        png = save_pr_plot(curves, out / "pr_curve.png", title=title,
                           ap_by_label={c.label: c.ap for c in result.frame.classes})
        click.echo(f"precision-recall plot: {png}")
