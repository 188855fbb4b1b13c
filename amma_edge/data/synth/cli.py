"""`amma-edge data synth`: write a synthetic action dataset in the UCF101-24 layout."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import click

from amma_edge.data.synth.actions import CLASSES
from amma_edge.errors import AmmaEdgeError


def _size(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", value)
    if not m:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 320x240")
    return int(m.group(1)), int(m.group(2))


def _frames(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", value)
    if not m:
        raise click.BadParameter(f"{value!r} is not MIN-MAX (or one number), e.g. 40-90")
    lo = int(m.group(1))
    return lo, int(m.group(2) or lo)


def _classes(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if value is None:
        return CLASSES
    return tuple(c.strip() for c in value.split(",") if c.strip())


@click.command("synth")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset folder to create (frames in rgb-images/, annotations.json, tubes.npz).")
@click.option("--videos", type=click.IntRange(min=1), default=200, show_default=True, help="Number of videos.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed; the same seed writes the same dataset, byte for byte.")
@click.option("--size", default="320x240", show_default=True, callback=_size, help="Frame size WIDTHxHEIGHT.")
@click.option("--fps", type=click.FloatRange(min=1.0, max=120.0), default=25.0, show_default=True)
@click.option("--classes", default=None, callback=_classes,
              help=f"Comma-separated action classes. Default: all of {','.join(CLASSES)}.")
@click.option("--test-fraction", type=float, default=0.2, show_default=True,
              help="Share of each class's videos in the test split; 1 makes a held-out "
                   "test-only set (e.g. with another --seed) for `amma-edge eval`.")
@click.option("--frames", "frames", default="40-90", show_default=True, callback=_frames,
              help="Video length range in frames, MIN-MAX.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes. Default: one per core.")
@click.option("--preview", is_flag=True, help="Also write preview.png: frames of each class with their boxes.")
@click.option("--force", is_flag=True, help="Write into a non-empty folder that is not a synth dataset.")
def synth(out: Path, videos: int, seed: int, size: tuple[int, int], fps: float, classes: tuple[str, ...],
          test_fraction: float, frames: tuple[int, int], workers: int | None, preview: bool, force: bool) -> None:
    """Make a synthetic spatio-temporal action dataset (people walking, running, jumping, waving, clapping,
    sitting down, standing up, falling) in the UCF101-24 layout, so training, evaluation and the demo run
    without downloading anything."""
    from amma_edge.data.synth.writer import PREVIEW, SynthConfig, write_dataset

    try:
        config = SynthConfig(videos=videos, seed=seed, width=size[0], height=size[1], fps=fps, classes=classes,
                             test_fraction=test_fraction, min_frames=frames[0], max_frames=frames[1])
        start = time.perf_counter()
        with click.progressbar(length=videos, label="rendering", file=sys.stderr) as bar:
            done = [0]

            def progress(n: int) -> None:
                bar.update(n - done[0])
                done[0] = n

            gt = write_dataset(out, config, workers=workers, preview=preview, force=force, progress=progress)
    except AmmaEdgeError as exc:
        raise click.ClickException(str(exc)) from exc
    seconds = time.perf_counter() - start
    total = sum(gt.nframes.values())
    train, test = gt.splits[0]
    click.echo(f"wrote {len(gt.nframes)} videos, {total} frames ({len(train)} train / {len(test)} test, "
               f"{len(gt.labels)} classes) to {out} in {seconds:.1f} s ({total / seconds:.0f} frames/s)")
    if preview:
        click.echo(f"preview: {out / PREVIEW}")
