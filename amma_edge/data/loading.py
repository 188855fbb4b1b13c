"""Opening a dataset from whatever the user points at, and converting published annotations to ours.

`load_dataset` accepts an amma-edge dataset folder (annotations.json + tubes.npz), a folder holding the
published UCF101v2-GT.pkl or JHMDB-GT.pkl, or a .pkl file, so every command takes the same PATH.

`convert_dataset` never copies frames: a frame folder of UCF101-24 is tens of GB. It writes the annotations
into the output folder and records where the frames are in `frame_dir`:
  absolute  (default) the absolute path of the source frame folder: the output folder can move anywhere on
            this machine, as long as the source frames stay put;
  relative  a path relative to the output folder: move the output and the source together (e.g. to another
            machine, or the output lives inside the source);
  symlink   a symlink in the output folder to the source frame folder, `frame_dir` names the link.
Frames that already lie inside the output folder are always recorded relative to it.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from amma_edge.data.annotations import ANNOTATIONS_JSON, GroundTruth, load_ground_truth, save_ground_truth
from amma_edge.data.formats.ucf_jhmdb import JHMDB_PICKLE, UCF_PICKLE, load_pickle
from amma_edge.errors import AmmaEdgeError

FRAME_REFERENCES = ("absolute", "relative", "symlink")


@dataclass
class LoadedDataset:
    """A dataset's ground truth and the root its `frame_dir` is relative to; unpacks as `gt, root`."""

    gt: GroundTruth
    root: Path
    source: Path  # the annotation file that was read
    format: str  # "amma-edge" or "pickle"

    def __iter__(self) -> Iterator:
        return iter((self.gt, self.root))


def load_dataset(path: str | os.PathLike) -> LoadedDataset:
    """Load the dataset at `path`, detecting its format."""
    path = Path(path)
    looked_for = (f"a folder with {ANNOTATIONS_JSON} (amma-edge), a folder with {UCF_PICKLE} or {JHMDB_PICKLE}, "
                  "or a .pkl ground-truth file")
    if not path.exists():
        raise AmmaEdgeError(f"dataset {path} does not exist: expected {looked_for}")
    if path.is_file():
        if path.name == ANNOTATIONS_JSON:
            return LoadedDataset(load_ground_truth(path.parent), path.parent, path, "amma-edge")
        if path.suffix.lower() == ".pkl":
            return LoadedDataset(load_pickle(path), path.parent, path, "pickle")
        raise AmmaEdgeError(f"{path} is not a dataset: expected {looked_for}")
    if (path / ANNOTATIONS_JSON).is_file():
        return LoadedDataset(load_ground_truth(path), path, path / ANNOTATIONS_JSON, "amma-edge")
    pickles = [path / name for name in (UCF_PICKLE, JHMDB_PICKLE) if (path / name).is_file()]
    if len(pickles) > 1:
        raise AmmaEdgeError(
            f"{path} holds both {UCF_PICKLE} and {JHMDB_PICKLE}: point at the one you mean, e.g. {pickles[0]}"
        )
    if pickles:
        return LoadedDataset(load_pickle(pickles[0]), path, pickles[0], "pickle")
    others = sorted(p.name for p in path.glob("*.pkl"))
    hint = f" (it has {', '.join(others[:5])}: pass the file itself)" if others else ""
    raise AmmaEdgeError(f"{path} holds no dataset{hint}: expected {looked_for}")


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def convert_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    frames: str = "absolute",
    *,
    overwrite: bool = False,
) -> LoadedDataset:
    """Write the dataset at `src` into `out` in amma-edge's JSON+NPZ form, referencing (not copying) its frames.

    `frames` says how the output finds the source frames (see the module docstring). Returns the written
    dataset as `load_dataset(out)` would see it.
    """
    if frames not in FRAME_REFERENCES:
        raise AmmaEdgeError(f"--frames must be one of {', '.join(FRAME_REFERENCES)}, not {frames!r}")
    loaded = load_dataset(src)
    gt = loaded.gt
    out = Path(out)
    if (out / ANNOTATIONS_JSON).exists() and not overwrite:
        raise AmmaEdgeError(
            f"{out / ANNOTATIONS_JSON} already exists: choose another --out folder, or pass --force to replace it"
        )
    source_frames = os.path.abspath(Path(loaded.root) / gt.frame_dir)
    out_abs = os.path.abspath(out)
    if _inside(source_frames, out_abs):
        frame_dir = os.path.relpath(source_frames, out_abs)
    elif frames == "symlink":
        frame_dir = Path(source_frames).name
        link = out / frame_dir
        if link.is_symlink() and os.path.abspath(os.path.join(out, os.readlink(link))) == source_frames:
            pass  # already points there (a repeated conversion)
        elif link.exists() or link.is_symlink():
            raise AmmaEdgeError(
                f"cannot link the frames: {link} already exists and is not a link to {source_frames}; remove it "
                "or use --frames absolute"
            )
        else:
            out.mkdir(parents=True, exist_ok=True)
            try:
                os.symlink(source_frames, link, target_is_directory=True)
            except OSError as exc:
                raise AmmaEdgeError(
                    f"cannot create the symlink {link} -> {source_frames} ({exc}); use --frames absolute instead"
                ) from exc
    elif frames == "relative":
        try:
            frame_dir = os.path.relpath(source_frames, out_abs)
        except ValueError:  # different drives on Windows: no relative path exists
            frame_dir = source_frames
    else:
        frame_dir = source_frames
    converted = GroundTruth(
        labels=gt.labels, splits=gt.splits, nframes=gt.nframes, resolution=gt.resolution, gttubes=gt.gttubes,
        frame_dir=Path(frame_dir).as_posix(), frame_pattern=gt.frame_pattern, fps=gt.fps,
    )
    written = save_ground_truth(converted, out)
    return LoadedDataset(converted, out, written, "amma-edge")
