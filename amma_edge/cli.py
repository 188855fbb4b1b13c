"""The `amma-edge` command line: one thin subcommand per stage; the work lives in the stage packages."""
from __future__ import annotations

import json
import sys

import click

from amma_edge import __version__
from amma_edge.clitools import UserErrorGroup


@click.group(cls=UserErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="amma-edge")
def main() -> None:
    """Real-time spatio-temporal action detection, from the workstation to an embedded GPU."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--model", "names", multiple=True, help="Only these presets (repeatable). Default: all.")
def models(as_json: bool, names: tuple[str, ...]) -> None:
    """The model zoo: parameters, GMACs per clip and input shape of every preset."""
    from amma_edge.models import get_config, preset_names
    from amma_edge.models.complexity import MAC_CONVENTION, measure
    from amma_edge.tables import format_table

    results = [measure(get_config(name)) for name in (names or preset_names())]
    if as_json:
        click.echo(json.dumps({"convention": MAC_CONVENTION, "models": [r.as_dict() for r in results]}, indent=2))
        return

    def g(macs: int | None) -> str:
        return "" if macs is None else f"{macs / 1e9:.2f}"

    rows = [
        [
            r.name,
            f"{r.params / 1e6:.2f}M",
            g(r.stream_macs),
            g(r.paper_macs_per_clip),
            g(r.full_pass_macs),
            "×".join(map(str, r.input_shape)),
        ]
        for r in results
    ]
    click.echo(MAC_CONVENTION)
    click.echo("stream = one new clip with feature caching (E + H); paper = (K·E + H) / K as AMMA's Table 3; "
               "full = K clips from scratch (K·E + H). A* runs once per key frame.\n")
    click.echo(format_table(["model", "params", "GMACs stream", "GMACs paper", "GMACs full", "input"], rows))


def _add_stage_commands() -> None:
    from amma_edge.data.cli import data
    from amma_edge.eval.cli import eval_command
    from amma_edge.train.cli import train
    from amma_edge.viz.cli import viz

    main.add_command(data)
    main.add_command(train)
    main.add_command(eval_command)
    main.add_command(viz)

    from amma_edge.runtime.cli import run_command

    main.add_command(run_command)

    from amma_edge.export.cli import export_command

    main.add_command(export_command)

    from amma_edge.calibration.cli import calibrate_command

    main.add_command(calibrate_command)

    from amma_edge.bench.cli import bench_command

    main.add_command(bench_command)

    from amma_edge.build.cli import build_command

    main.add_command(build_command)


_add_stage_commands()

if __name__ == "__main__":
    sys.exit(main())
