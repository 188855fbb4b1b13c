"""`amma-edge bench`: every backend and precision of a model through the streaming pipeline, side by side.

    amma-edge bench --model runs/export/amma-s                      # all combinations; n/a ones say why
    amma-edge bench --model DIR --backends ort-cpu,trt --precisions fp32,fp16 --data data/synth --json b.json
    amma-edge bench --model DIR --baseline benches/baselines/nvidia-jetson-orin-nano.json --max-slowdown 5%

Exit status: 0, 1 for a user error (one line), 3 when a figure regressed against --baseline.
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from amma_edge.bench.config import BACKENDS, PRECISIONS, BenchConfig, parse_fraction, parse_list
from amma_edge.errors import AmmaEdgeError

REGRESSION_EXIT = 3


def _default_model() -> Path | None:
    from amma_edge.demo import FP32_DIR

    return FP32_DIR if (FP32_DIR / "model.json").is_file() else None


@click.command("bench", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="An `amma-edge export` folder (fp32). Default: the bundled demo model.")
@click.option("--backends", default=",".join(BACKENDS), show_default=True, help="Comma-separated.")
@click.option("--precisions", default=",".join(PRECISIONS), show_default=True, help="Comma-separated.")
@click.option("--source", default=None,
              help="What to stream (any `amma-edge run` SOURCE). Default: a synthetic 320x240 stream rendered into "
                   "memory first, so capture costs what a hardware decoder's copy would.")
@click.option("--frames", type=click.IntRange(min=1), default=120, show_default=True,
              help="Timed frames per combination (whole clips).")
@click.option("--warmup", type=click.IntRange(min=0), default=16, show_default=True,
              help="Frames run first and left out of the figures (whole clips).")
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None,
              help="Dataset whose test split is scored (frame-mAP@0.5) through each combination.")
@click.option("--max-videos", type=click.IntRange(min=1), default=None, help="Score only the first N test videos.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every figure here. Default: runs/bench-<date-time>/bench.json.")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG of FPS and frame-mAP per combination. Default: beside the JSON.")
@click.option("--no-chart", is_flag=True, help="Do not draw the chart.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads per engine.")
@click.option("--int8-model", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The INT8 folder. Default: <model>-int8 (what `amma-edge calibrate` writes).")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint for the torch rows. Default: the one model.json records.")
@click.option("--torch-device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where torch fp32 runs (torch fp16 always runs on CUDA).")
@click.option("--engine-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the TensorRT engines built for trt rows. Default: <model>/.bench-engines.")
@click.option("--rebuild-engines", is_flag=True, help="Build the TensorRT engines again even if cached.")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An earlier `amma-edge bench` JSON: exit 3 when a figure regressed against it.")
@click.option("--max-slowdown", default="10%", show_default=True, help="FPS drop that counts as a regression.")
@click.option("--max-drop", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="frame-mAP drop (points) that counts as a regression.")
@click.option("--force-compare", is_flag=True, help="Compare with a baseline of another model anyway.")
@click.pass_context
def bench_command(ctx: click.Context, model_path: Path | None, backends: str, precisions: str, source: str | None,
                  frames: int, warmup: int, data: Path | None, max_videos: int | None, json_path: Path | None,
                  chart_path: Path | None, no_chart: bool, threads: int | None, int8_model: Path | None,
                  checkpoint: Path | None, torch_device: str, engine_cache: Path | None, rebuild_engines: bool,
                  baseline: Path | None, max_slowdown: str, max_drop: float, force_compare: bool) -> None:
    """Benchmark a model on every backend and precision through the device's streaming pipeline.

    One row per (backend, precision): status, model size, frame-mAP (with --data), per-clip latency
    p50/p90/p99, end-to-end and engine-only FPS, peak host and device memory, and on Jetson average power and
    energy per frame. A combination that cannot run here says why; the others still run.
    """
    from amma_edge.bench.bench import run_bench
    from amma_edge.bench.regression import compare_reports, load_report, same_model_problem
    from amma_edge.bench.report import format_rows, write_chart, write_json
    from amma_edge.export.bundle import load_bundle

    try:
        model_path = model_path or _default_model()
        if model_path is None:
            raise AmmaEdgeError("no model: pass --model (a folder written by `amma-edge export`); the bundled demo "
                                "model is missing from this installation")
        slowdown = parse_fraction(max_slowdown, "--max-slowdown")
        config = BenchConfig(model=model_path, backends=parse_list(backends, BACKENDS, "backend"),
                             precisions=parse_list(precisions, PRECISIONS, "precision"), source=source,
                             frames=frames, warmup=warmup, data=data, max_videos=max_videos, threads=threads,
                             int8_model=int8_model, checkpoint=checkpoint, torch_device=torch_device,
                             engine_cache=engine_cache, rebuild_engines=rebuild_engines)
        if int8_model is not None and not int8_model.is_dir():
            raise AmmaEdgeError(f"--int8-model {int8_model} does not exist: pass the folder `amma-edge calibrate` "
                                "wrote")
        reference = None
        if baseline is not None:  # refuse before minutes of benchmarking, not after
            reference = load_report(baseline)
            problem = same_model_problem(load_bundle(model_path).checkpoint_sha256, reference)
            if problem and not force_compare:
                raise AmmaEdgeError(f"refusing to compare with {baseline}: {problem}")
        json_path = json_path or Path("runs") / time.strftime("bench-%Y%m%d-%H%M%S") / "bench.json"
        chart = None if no_chart else chart_path or json_path.with_suffix(".png")

        run = run_bench(config, log=lambda line: click.echo(line, err=True))
        click.echo(f"\n{run.bundle.config.name} from {model_path} on {run.document['machine']['cpu']}"
                   + (f" + {run.document['machine']['gpu']['name']}" if run.document["machine"]["gpu"].get("name")
                      else ""))
        click.echo(format_rows(run.rows))
        comparison = None
        if reference is not None:
            comparison = compare_reports(run.document, reference, max_slowdown=slowdown, max_drop=max_drop,
                                         force=force_compare, baseline_name=str(baseline))
            run.document["comparison"] = comparison.as_dict()
        written = [write_json(json_path, run.document)]
        if chart is not None:
            gpu = run.document["machine"]["gpu"].get("name")
            title = f"{run.bundle.config.name}: {run.document['machine']['cpu']}" + (f" + {gpu}" if gpu else "")
            written.append(write_chart(chart, run.rows, title))
        click.echo("wrote " + ", ".join(str(p) for p in written))
    except AmmaEdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    if comparison is not None:
        click.echo("\n" + comparison.format())
        if not comparison.passed:
            ctx.exit(REGRESSION_EXIT)
