"""`amma-edge viz motion SOURCE`: see the micro-motion the model is fed, as a PNG strip."""
from __future__ import annotations

from pathlib import Path

import click

from amma_edge.clitools import UserErrorGroup
from amma_edge.errors import AmmaEdgeError


@click.group(cls=UserErrorGroup)
def viz() -> None:
    """Pictures of what the model sees."""


@viz.command("motion")
@click.argument("source", default="synthetic://?seed=3&classes=sit_down,stand_up,wave,fall")
@click.option("--out", type=click.Path(path_type=Path), default=Path("motion.png"), show_default=True,
              help="PNG to write.")
@click.option("--clips", type=click.IntRange(1, 32), default=6, show_default=True, help="Rows: clips to show.")
@click.option("--t", "clip_len", type=click.IntRange(2, 16), default=4, show_default=True, help="Frames per clip.")
@click.option("--every", type=click.IntRange(min=1), default=None,
              help="Frames between the starts of shown clips. Default: spread the clips over --max-frames.")
@click.option("--max-frames", type=click.IntRange(min=2), default=200, show_default=True,
              help="Read at most this many frames of SOURCE.")
@click.option("--input-size", default="288", show_default=True, help="Network input size the maps are computed at.")
@click.option("--force", is_flag=True, help="Replace an existing --out.")
def motion(source: str, out: Path, clips: int, clip_len: int, every: int | None, max_frames: int, input_size: str,
           force: bool) -> None:
    """Write frames beside their accumulated micro-motion maps (SOURCE: file, camera, folder, synthetic://...)."""
    from amma_edge.fileio import atomic_write
    from amma_edge.runtime.capture import open_source
    from amma_edge.train.cli import parse_input_size
    from amma_edge.viz.motion import motion_strip

    if out.exists() and not force:
        raise AmmaEdgeError(f"{out} exists: pass --force to replace it, or another --out")
    size = parse_input_size(input_size)
    frames = _read(open_source, source, max_frames)
    if len(frames) < clip_len:
        raise AmmaEdgeError(f"{source} gave {len(frames)} frames, fewer than one clip of {clip_len}")
    last_start = len(frames) - clip_len
    step = every or max(1, last_start // max(1, clips - 1))
    starts = list(range(0, last_start + 1, step))[:clips]
    chosen = [frames[s:s + clip_len] for s in starts]
    labels = [f"frames {s + 1}-{s + clip_len}" for s in starts]
    strip = motion_strip(chosen, size=size, labels=labels)
    ok, png = cv2_encode(strip)
    if not ok:
        raise AmmaEdgeError(f"could not encode the strip as PNG for {out}")
    atomic_write(out, lambda f: f.write(png))
    click.echo(f"wrote {out}: {len(chosen)} clips of {clip_len} frames (frame | motion | overlay) from {source}")


def cv2_encode(image):  # small seam so the import of cv2 stays local to the command
    import cv2

    ok, buffer = cv2.imencode(".png", image)
    return ok, buffer.tobytes()


def _read(open_source, source: str, max_frames: int) -> list:
    frames = []
    src = open_source(source)
    try:
        while len(frames) < max_frames:
            result = src.capture(timeout=5.0)
            if not result.ok:
                if result.status.value == "timeout" and not frames:
                    raise AmmaEdgeError(f"{source} delivered no frame within 5 s")
                break
            frames.append(result.frame.image.copy())  # kept beyond the ring slot's life
            result.frame.release()
    finally:
        src.close()
    return frames
