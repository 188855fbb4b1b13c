"""`amma-edge build`: a model folder → TensorRT engines on this device (see `amma_edge.build.builder`)."""
from __future__ import annotations

from pathlib import Path

import click

from amma_edge.build.options import DEFAULT_WORKSPACE_GIB, VIAS
from amma_edge.errors import AmmaEdgeError
from amma_edge.export.metadata import PRECISIONS


@click.command("build", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path),
              help="Folder of `amma-edge export` (fp32) or of `amma-edge calibrate` (INT8 Q/DQ, DIR-int8).")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None,
              help="Engine precision. Default: int8 for a calibrated Q/DQ folder, else fp16.")
@click.option("--workspace", "workspace_gib", type=float, default=DEFAULT_WORKSPACE_GIB, show_default=True,
              help="Builder workspace memory limit, GiB.")
@click.option("--dla", "dla_core", type=click.IntRange(min=0), default=None,
              help="Build for this DLA core (fp16 / int8), with GPU fallback for layers it cannot run.")
@click.option("--timing-cache", type=click.Path(path_type=Path), default=None,
              help="Timing cache file: read when present, written back after the build (faster rebuilds).")
@click.option("--dynamic-batch", default=None, metavar="MIN,OPT,MAX",
              help="Optimization profile over the batch size (needs graphs with a dynamic batch axis).")
@click.option("--strongly-typed/--weakly-typed", "strongly_typed", default=None,
              help="Strongly typed network (the ONNX types decide precisions). Default: on for Q/DQ graphs only.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the engines. Default: the model folder itself.")
@click.option("--force", is_flag=True, help="Replace engines already in the output folder.")
@click.option("--via", type=click.Choice(VIAS), default="trt", show_default=True,
              help="trt: TensorRT's ONNX parser; torch-tensorrt: compile the training checkpoint instead.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="--via torch-tensorrt: the checkpoint. Default: the one recorded in the folder's model.json.")
def build_command(model_dir: Path, precision: str | None, workspace_gib: float, dla_core: int | None,
                  timing_cache: Path | None, dynamic_batch: str | None, strongly_typed: bool | None, out: Path | None,
                  force: bool, via: str, checkpoint: Path | None) -> None:
    """Build TensorRT engines (encoder.engine + head.engine, or model.engine) on this device.

    Engines run only with the TensorRT version and GPU they were built with, so build them where they run.
    Each engine file carries the model metadata in its header; a failed build leaves no engine behind.
    """
    from amma_edge.build.builder import BuildConfig, build_engines
    from amma_edge.build.options import default_precision, folder_precision, parse_dynamic_batch
    from amma_edge.export.bundle import load_bundle

    try:
        batches = parse_dynamic_batch(dynamic_batch)
        if precision is None:
            bundle = load_bundle(model_dir)
            precision = default_precision(
                folder_precision({g: m.precision for g, m in bundle.metadata.items()}, model_dir))
        config = BuildConfig(precision=precision, workspace_gib=workspace_gib, dla_core=dla_core,
                             timing_cache=timing_cache, dynamic_batch=batches, strongly_typed=strongly_typed, via=via,
                             checkpoint=checkpoint, force=force)
        result = build_engines(model_dir, out, config, log=click.echo)
    except AmmaEdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    for engine in result.engines:
        click.echo(engine.summary())
    if result.timing_cache:
        cache = result.timing_cache
        click.echo(f"timing cache {cache['path']}: read {cache['loaded_bytes']} bytes, wrote {cache['saved_bytes']}")
    click.echo(f"wrote {', '.join(e.path.name for e in result.engines)} to {result.out} in {result.seconds:.1f} s; "
               f"run them with `amma-edge run --model {result.out} --backend trt`")
