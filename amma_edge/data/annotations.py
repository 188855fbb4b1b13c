"""The in-memory ground truth shared by every dataset format, and amma-edge's own on-disk form of it.

The published UCF101-24 / JHMDB-21 annotations are one Python pickle (the layout MOC, ACT and AMMA use).
amma-edge keeps exactly that content in `GroundTruth`, but writes it as `annotations.json` (labels, splits,
frame counts, resolutions) plus `tubes.npz` (the box arrays), which cannot execute code when loaded and can
be read from any language.

Conventions kept from the published files: frames are numbered from 1; a tube is an N×5 float array of
(frame, x1, y1, x2, y2) in pixels of the original resolution; `resolution` is (height, width).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amma_edge.errors import AmmaEdgeError
from amma_edge.fileio import atomic_write

ANNOTATIONS_JSON = "annotations.json"
TUBES_NPZ = "tubes.npz"
FORMAT_VERSION = 1


@dataclass
class GroundTruth:
    """Labels, splits and per-video action tubes of one dataset.

    `splits` holds one (train_videos, test_videos) pair per split: UCF101-24 has one, JHMDB-21 three.
    `gttubes[video][label_index]` is a list of tubes, each an N×5 array (frame, x1, y1, x2, y2).
    `frame_dir` / `frame_pattern` say where the frames of a video live, relative to the dataset root;
    `frame_dir` may also be absolute (`amma-edge data convert` records the source frames so, never copying
    them), and a `frame_pattern` without a `{frame}` field names one video file per video (`"{video}.avi"`),
    which `amma_edge.data.frames` decodes.
    """

    labels: list[str]
    splits: list[tuple[list[str], list[str]]]
    nframes: dict[str, int]
    resolution: dict[str, tuple[int, int]]
    gttubes: dict[str, dict[int, list[np.ndarray]]]
    frame_dir: str = "rgb-images"
    frame_pattern: str = "{video}/{frame:05d}.jpg"
    fps: dict[str, float] = field(default_factory=dict)

    @property
    def videos(self) -> list[str]:
        return sorted(self.nframes)

    def split_videos(self, split: str = "test", index: int = 0) -> list[str]:
        """Videos of the train or test part of split `index` (JHMDB-21 has splits 0, 1, 2)."""
        if split not in ("train", "test"):
            raise AmmaEdgeError(f"split must be 'train' or 'test', not {split!r}")
        if not 0 <= index < len(self.splits):
            raise AmmaEdgeError(f"split index {index} does not exist: this dataset has {len(self.splits)} split(s)")
        return list(self.splits[index][0 if split == "train" else 1])

    def frame_path(self, root: str | os.PathLike, video: str, frame: int) -> Path:
        """Path of frame `frame` (1-based) of `video`."""
        return Path(root) / self.frame_dir / self.frame_pattern.format(video=video, frame=frame)


def save_ground_truth(gt: GroundTruth, root: str | os.PathLike) -> Path:
    """Write `annotations.json` and `tubes.npz` into `root`, each atomically (temp file, then rename)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    tube_index: dict[str, dict[str, list[str]]] = {}
    for video in sorted(gt.gttubes):
        tube_index[video] = {}
        for label in sorted(gt.gttubes[video]):
            keys = []
            for i, tube in enumerate(gt.gttubes[video][label]):
                key = f"t{len(arrays)}"
                arrays[key] = np.asarray(tube, dtype=np.float32).reshape(-1, 5)
                keys.append(key)
            tube_index[video][str(int(label))] = keys
    meta = {
        "format": "amma-edge-gt",
        "version": FORMAT_VERSION,
        "labels": list(gt.labels),
        "splits": [{"train": list(tr), "test": list(te)} for tr, te in gt.splits],
        "nframes": {v: int(n) for v, n in sorted(gt.nframes.items())},
        "resolution": {v: [int(r[0]), int(r[1])] for v, r in sorted(gt.resolution.items())},
        "fps": {v: float(f) for v, f in sorted(gt.fps.items())},
        "frame_dir": gt.frame_dir,
        "frame_pattern": gt.frame_pattern,
        "tubes": tube_index,
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    payload = buffer.getvalue()
    # The JSON names the exact tube file it belongs to, so a save interrupted between the two writes (new
    # tubes, old JSON) is caught at load instead of pairing boxes with the wrong videos.
    meta["tubes_sha256"] = hashlib.sha256(payload).hexdigest()
    atomic_write(root / TUBES_NPZ, lambda f: f.write(payload))
    atomic_write(root / ANNOTATIONS_JSON, lambda f: f.write(json.dumps(meta, indent=1).encode()))
    return root / ANNOTATIONS_JSON


def load_ground_truth(root: str | os.PathLike) -> GroundTruth:
    """Read a dataset written by `save_ground_truth`."""
    root = Path(root)
    meta_path = root / ANNOTATIONS_JSON
    if not meta_path.is_file():
        raise AmmaEdgeError(
            f"{root} has no {ANNOTATIONS_JSON}: point at a dataset made by `amma-edge data synth` or "
            f"`amma-edge data convert`, or convert a published pickle with `amma-edge data convert`"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise AmmaEdgeError(f"{meta_path} is not valid JSON ({exc}); regenerate or re-convert the dataset") from exc
    if meta.get("format") != "amma-edge-gt":
        raise AmmaEdgeError(f"{meta_path} is not an amma-edge ground-truth file (no 'format': 'amma-edge-gt')")
    if meta.get("version", 0) > FORMAT_VERSION:
        raise AmmaEdgeError(
            f"{meta_path} has format version {meta['version']}, newer than this amma-edge reads ({FORMAT_VERSION}): "
            "upgrade amma-edge"
        )
    npz_path = root / TUBES_NPZ
    if not npz_path.is_file():
        raise AmmaEdgeError(f"{root} has {ANNOTATIONS_JSON} but no {TUBES_NPZ}: the dataset is incomplete")
    payload = npz_path.read_bytes()
    expected = meta.get("tubes_sha256")
    if expected is not None and hashlib.sha256(payload).hexdigest() != expected:
        raise AmmaEdgeError(
            f"{npz_path} does not belong to {meta_path} (a save was interrupted or one file was replaced): "
            "regenerate or re-convert the dataset"
        )
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    try:
        return _from_meta(meta, arrays, npz_path)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise AmmaEdgeError(
            f"{meta_path} is malformed ({type(exc).__name__}: {exc}); regenerate or re-convert the dataset"
        ) from exc


def _from_meta(meta: dict, arrays: dict[str, np.ndarray], npz_path: Path) -> GroundTruth:
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for video, by_label in meta["tubes"].items():
        gttubes[video] = {}
        for label, keys in by_label.items():
            missing = [k for k in keys if k not in arrays]
            if missing:
                raise AmmaEdgeError(f"{npz_path} lacks tube arrays {missing[:3]} of video {video!r}: re-write the dataset")
            gttubes[video][int(label)] = [arrays[k] for k in keys]
    return GroundTruth(
        labels=list(meta["labels"]),
        splits=[(list(s["train"]), list(s["test"])) for s in meta["splits"]],
        nframes={v: int(n) for v, n in meta["nframes"].items()},
        resolution={v: (int(r[0]), int(r[1])) for v, r in meta["resolution"].items()},
        gttubes=gttubes,
        frame_dir=meta.get("frame_dir", "rgb-images"),
        frame_pattern=meta.get("frame_pattern", "{video}/{frame:05d}.jpg"),
        fps={v: float(f) for v, f in meta.get("fps", {}).items()},
    )

