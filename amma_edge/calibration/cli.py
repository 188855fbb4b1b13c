"""`amma-edge calibrate`: an fp32 export folder + a dataset → an INT8 Q/DQ folder (see
`amma_edge.calibration.calibrate`)."""
from __future__ import annotations

from pathlib import Path

import click

from amma_edge.calibration.calibrators import DEFAULT_PERCENTILE, METHODS
from amma_edge.calibration.options import DEFAULT_SAMPLES
from amma_edge.calibration.trt_cache import DEFAULT_TRT_VERSION
from amma_edge.errors import AmmaEdgeError


def _keep_float(ctx: click.Context, param: click.Parameter, value: str) -> int | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number of layers nor 'auto'") from None
    if number < 0:
        raise click.BadParameter(f"{value} is negative: pass 0 or more layers, or 'auto'")
    return number


@click.command("calibrate", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path),
              help="fp32 export folder (`amma-edge export`): encoder.onnx + head.onnx, or model.onnx.")
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Dataset the calibration clips come from (`amma-edge data synth` / `data convert`).")
@click.option("--samples", type=click.IntRange(min=1), default=DEFAULT_SAMPLES, show_default=True,
              help="Calibration inputs per graph (clips for the encoder, K-clip feature windows for the head).")
@click.option("--method", type=click.Choice(METHODS), default="entropy", show_default=True,
              help="entropy: TensorRT's KL rule; minmax: max |x|; percentile: that percentile of |x|.")
@click.option("--percentile", type=click.FloatRange(0, 100, min_open=True), default=DEFAULT_PERCENTILE,
              show_default=True, help="The percentile of --method percentile.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder. Default: the sibling <MODEL>-int8.")
@click.option("--keep-float", "keep_float", default="0", show_default=True, callback=_keep_float,
              help="Leave the N most quantization-sensitive layers in float, or 'auto': the fewest that keep the "
                   "frame-mAP drop within --max-drop.")
@click.option("--max-drop", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Frame-mAP points --keep-float auto may lose.")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Which split the calibration clips come from (accuracy is always measured on test).")
@click.option("--eval/--no-eval", "evaluate", default=True, show_default=True,
              help="Measure fp32 and INT8 frame-/video-mAP on the test split for the report.")
@click.option("--eval-videos", type=click.IntRange(min=1), default=None,
              help="Only the first N test videos for the accuracy (faster --keep-float auto).")
@click.option("--sensitivity-samples", type=click.IntRange(min=1), default=32, show_default=True,
              help="Calibration inputs per graph for the per-layer sensitivity.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder keeping the preprocessed calibration inputs, reused by a later run with the same model, "
                   "data and --samples. Default: a temporary folder.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="ONNX Runtime CPU threads.")
@click.option("--trt-version", default=DEFAULT_TRT_VERSION, show_default=True,
              help="TensorRT version named in the calibration caches' header (TensorRT skips other versions').")
@click.option("--force", is_flag=True, help="Replace a non-empty --out folder.")
def calibrate_command(model_dir: Path, data: Path, samples: int, method: str, percentile: float, out: Path | None,
                      keep_float: int | str, max_drop: float, split: str, evaluate: bool, eval_videos: int | None,
                      sensitivity_samples: int, cache: Path | None, threads: int | None, trt_version: str,
                      force: bool) -> None:
    """Calibrate an fp32 export to INT8: Q/DQ ONNX graphs (TensorRT's explicit quantization, also run by ONNX
    Runtime), TensorRT calibration caches, golden files and a report of the accuracy and speed it costs.

    Everything is written to a temporary folder beside OUT and moved there at the end, so a failure leaves
    nothing behind.
    """
    from amma_edge.calibration.calibrate import REPORT_FILE, calibrate_model
    from amma_edge.calibration.options import CalibrationOptions
    from amma_edge.calibration.report import format_report

    try:
        options = CalibrationOptions(samples=samples, method=method, percentile=percentile, keep_float=keep_float,
                                     max_drop=max_drop, split=split, evaluate=evaluate, eval_videos=eval_videos,
                                     sensitivity_samples=sensitivity_samples, cache=cache, threads=threads,
                                     trt_version=trt_version, force=force)
        result = calibrate_model(model_dir, data, out, options, log=click.echo)
    except AmmaEdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("")
    click.echo(format_report(result.report))
    click.echo(f"\nwrote {result.out} ({REPORT_FILE}) in {result.seconds:.1f} s")
