"""`amma-edge export`: a training checkpoint → an export folder (see `amma_edge.export.exporter`)."""
from __future__ import annotations

from pathlib import Path

import click

from amma_edge.errors import AmmaEdgeError


@click.command("export", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "--checkpoint", "checkpoint", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Training checkpoint (best.pt / last.pt of `amma-edge train`).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write encoder.onnx + head.onnx (AMMA) or model.onnx (A*), golden/ and model.json.")
@click.option("--opset", type=click.IntRange(11, 20), default=17, show_default=True, help="ONNX opset.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Static batch size of every graph.")
@click.option("--fused", is_flag=True, help="AMMA: also write fused.onnx (K clips → outputs, no feature cache).")
@click.option("--no-simplify", "no_simplify", is_flag=True, help="Keep the traced graphs as they are (no onnxsim).")
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=None,
              help="Dataset whose test clips are used for parity checks and as golden inputs (else seeded random).")
@click.option("--samples", "data_samples", type=click.IntRange(min=1), default=4, show_default=True,
              help="Test clips taken from --data.")
@click.option("--force", is_flag=True, help="Replace a non-empty --out folder.")
def export_command(checkpoint: Path, out: Path, opset: int, batch: int, fused: bool, no_simplify: bool,
                   data: Path | None, data_samples: int, force: bool) -> None:
    """Export a checkpoint to ONNX: checked, simplified, parity-tested against PyTorch, with metadata inside.

    Everything is written to a temporary folder beside OUT and moved to OUT only when every graph agrees with
    PyTorch (ONNX Runtime on the CPU, max relative error 1e-4), so a failed export leaves nothing behind.
    """
    from amma_edge.export.exporter import ExportOptions, export_model

    options = ExportOptions(opset=opset, batch=batch, fused=fused, simplify=not no_simplify, data=data,
                            data_samples=data_samples, force=force)
    try:
        result = export_model(checkpoint, out, options, log=click.echo)
    except AmmaEdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    for graph in result.graphs:
        click.echo(graph.summary())
    files = ", ".join(result.manifest["files"])
    click.echo(f"wrote {result.out} ({files}) in {result.seconds:.1f} s")
