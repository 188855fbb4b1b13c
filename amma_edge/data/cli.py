"""`amma-edge data …`: the dataset commands. Thin: the work lives in `loading` and `check`."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from amma_edge.clitools import UserErrorGroup


@click.group(cls=UserErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
def data() -> None:
    """Datasets: convert published annotations to amma-edge's format and check a dataset before training.

    PATH / SRC may be an amma-edge dataset folder (annotations.json + tubes.npz), a folder holding the
    published UCF101v2-GT.pkl or JHMDB-GT.pkl (frames in rgb-images/ or Frames/, or video files in videos/),
    or a .pkl file. Pickles are read without running any code they might carry.
    """


@data.command()
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write annotations.json and tubes.npz into (created if needed).")
@click.option("--frames", "frames", type=click.Choice(["absolute", "relative", "symlink"]), default="absolute",
              show_default=True,
              help="How the output finds the source frames, which are never copied: 'absolute' records their "
                   "absolute path, 'relative' a path relative to OUT, 'symlink' links them into OUT.")
@click.option("--force", is_flag=True, help="Replace annotations already in OUT.")
def convert(src: Path, out: Path, frames: str, force: bool) -> None:
    """Write the ground truth of SRC into OUT in amma-edge's JSON+NPZ form.

    The frames stay where they are (a frame folder can be tens of GB): OUT records where they are, as
    chosen by --frames. Frames that already lie inside OUT are recorded relative to it. Run
    `amma-edge data check OUT` afterwards to see that every frame is found.
    """
    from amma_edge.data.loading import convert_dataset

    result = convert_dataset(src, out, frames, overwrite=force)
    gt = result.gt
    tubes = sum(len(t) for by_label in gt.gttubes.values() for t in by_label.values())
    click.echo(f"wrote {result.source} and {result.source.parent / 'tubes.npz'}: {len(gt.labels)} labels, "
               f"{len(gt.nframes)} videos, {tubes} tubes, {len(gt.splits)} split(s)")
    frame_root = Path(result.root) / gt.frame_dir
    if frame_root.exists():
        click.echo(f"frames stay in {os.path.abspath(frame_root)} (recorded as frame_dir {gt.frame_dir!r}); "
                   f"`amma-edge data check {out}` checks that every one is there")
    else:
        click.echo(f"warning: the frame folder {frame_root} does not exist (yet): put the frames there before training")


@data.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (problems with kind, video, frame).")
@click.option("--decode", is_flag=True,
              help="Also decode every frame (slow): finds truncated images, mixed frame sizes and short videos. "
                   "Without it frames are only checked to exist and be non-empty.")
def check(path: Path, as_json: bool, decode: bool) -> None:
    """Check the dataset at PATH and report every problem with its video and frame.

    Looks for missing or empty frame files and videos, tubes that start before frame 1 or end after nframes,
    repeated or decreasing frame numbers, empty tubes, boxes outside the image, unknown label indices,
    videos in a split without nframes or resolution, and videos in both train and test of a split.
    Exit status: 0 when the dataset is clean, 1 when problems were found (or it cannot be read).
    """
    from amma_edge.data.check import check_dataset
    from amma_edge.data.loading import load_dataset

    loaded = load_dataset(path)
    report = check_dataset(loaded.root, loaded.gt, decode=decode)
    if as_json:
        click.echo(json.dumps({"dataset": str(loaded.source), **report.as_dict()}, indent=1))
    else:
        for problem in report.problems:
            click.echo(f"[{problem.kind}] {problem.message}")
        click.echo(f"{loaded.source}: {report.summary()}")
    if not report.ok:
        click.get_current_context().exit(1)


def _add_synth() -> None:
    from amma_edge.data.synth.cli import synth

    data.add_command(synth)


_add_synth()
