"""Writing a synthetic dataset to disk, in the UCF101-24 layout amma-edge reads everywhere else.

Videos render in parallel worker processes, each from its own (seed, index) stream, so the bytes written do
not depend on the number of workers. Everything is built in a hidden sibling folder and moved into place at
the end, annotations last: an interrupted run never leaves a folder that looks like a complete dataset.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2

from amma_edge.data.annotations import (
    ANNOTATIONS_JSON,
    TUBES_NPZ,
    GroundTruth,
    save_ground_truth,
)
from amma_edge.data.synth.actions import CLASSES
from amma_edge.data.synth.generator import (
    VideoSpec,
    build_scene,
    check_classes,
    make_video_spec,
    scene_frames,
    scene_tubes,
)
from amma_edge.data.synth.scene import encode_jpeg
from amma_edge.errors import AmmaEdgeError
from amma_edge.fileio import atomic_write_text

MANIFEST = "synth.json"
PREVIEW = "preview.png"
FRAME_DIR = "rgb-images"
_FORMAT = "amma-edge-synth"


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthetic dataset; the same config always writes the same bytes."""

    videos: int
    seed: int = 0
    width: int = 320
    height: int = 240
    fps: float = 25.0
    classes: tuple[str, ...] = CLASSES
    test_fraction: float = 0.2
    min_frames: int = 40
    max_frames: int = 90

    def __post_init__(self) -> None:
        if self.videos < 1:
            raise AmmaEdgeError(f"--videos must be at least 1, got {self.videos}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise AmmaEdgeError(f"--test-fraction must be in [0, 1], got {self.test_fraction}")
        object.__setattr__(self, "classes", check_classes(self.classes))
        self.spec(0)  # validates sizes, fps and lengths with the same messages the stream gives

    def spec(self, index: int) -> VideoSpec:
        return make_video_spec(self.seed, index, width=self.width, height=self.height, fps=self.fps,
                               classes=self.classes, min_frames=self.min_frames, max_frames=self.max_frames)


def is_synth_output(path: str | os.PathLike) -> bool:
    """Whether `path` holds a dataset (complete or interrupted) written by this module."""
    manifest = Path(path) / MANIFEST
    try:
        return json.loads(manifest.read_text()).get("format") == _FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def split_test(names_by_label: dict[str, list[str]], fraction: float) -> set[str]:
    """Test videos: within each class, every 1/fraction-th video, so every class is in both parts."""
    test = set()
    for names in names_by_label.values():
        for rank, name in enumerate(names):
            if int((rank + 1) * fraction + 0.5) > int(rank * fraction + 0.5):
                test.add(name)
    all_names = [n for names in names_by_label.values() for n in names]
    if fraction > 0 and not test and len(all_names) > 1:
        test.add(max(all_names))
    return test


def _render_video(job: tuple[SynthConfig, int, str]) -> tuple[str, int, dict]:
    """Worker: render one video's frames under `root`; return its (name, nframes, tubes)."""
    config, index, root = job
    scene = build_scene(config.spec(index))
    spec = scene.spec
    folder = Path(root) / FRAME_DIR / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    quality = scene.imaging.jpeg_quality
    for t, frame in enumerate(scene_frames(scene), start=1):
        (folder / f"{t:05d}.jpg").write_bytes(encode_jpeg(frame, quality).tobytes())
    return spec.name, spec.nframes, scene_tubes(scene)


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would only contend


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise AmmaEdgeError(f"{out} exists and is not a directory: choose another --out")
    if out.is_dir() and any(out.iterdir()) and not is_synth_output(out) and not force:
        raise AmmaEdgeError(
            f"{out} is not empty and was not written by `amma-edge data synth`: choose a new or empty --out, "
            "or pass --force to write the dataset into it (files of the same names are replaced)"
        )


def _move_into(tmp: Path, out: Path) -> None:
    """Replace the dataset entries of `out` with those of `tmp`; the annotations go first out and last in."""
    if not out.exists():
        os.replace(tmp, out)
        return
    for name in (ANNOTATIONS_JSON, TUBES_NPZ):
        (out / name).unlink(missing_ok=True)
    trash = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.synth-old-"))
    try:
        for name in (FRAME_DIR, PREVIEW, MANIFEST):
            if (out / name).exists():
                os.replace(out / name, trash / name)
            if (tmp / name).exists():
                os.replace(tmp / name, out / name)
        for name in (TUBES_NPZ, ANNOTATIONS_JSON):
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


def write_dataset(out: str | os.PathLike, config: SynthConfig, *, workers: int | None = None, preview: bool = False,
                  force: bool = False, progress: Callable[[int], None] | None = None) -> GroundTruth:
    """Render `config.videos` videos into `out` and write their ground truth; returns it.

    `progress(n)` is called with the number of videos finished so far.
    """
    out = Path(out)
    _check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers or len(os.sched_getaffinity(0)), config.videos))
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.synth-tmp-"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would make the dataset private to this user
    try:
        jobs = [(config, i, str(tmp)) for i in range(config.videos)]
        results = []
        if workers == 1:
            for job in jobs:
                results.append(_render_video(job))
                if progress:
                    progress(len(results))
        else:
            # spawn, not fork: a forked child inherits OpenCV's and torch's thread pools mid-state and can hang
            with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
                for result in pool.imap_unordered(_render_video, jobs, chunksize=2):
                    results.append(result)
                    if progress:
                        progress(len(results))
        gt = _ground_truth(config, results)
        atomic_write_text(tmp / MANIFEST, json.dumps({"format": _FORMAT, "version": 1, **asdict(config)}, indent=1))
        if preview:
            from amma_edge.data.synth.preview import write_preview

            write_preview(gt, tmp, tmp / PREVIEW)
        save_ground_truth(gt, tmp)
        _move_into(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return gt


def _ground_truth(config: SynthConfig, results: Sequence[tuple[str, int, dict]]) -> GroundTruth:
    results = sorted(results)
    by_label: dict[str, list[str]] = {label: [] for label in config.classes}
    for name, *_ in results:
        by_label[name.split("/")[0]].append(name)
    test = split_test(by_label, config.test_fraction)
    names = [r[0] for r in results]
    return GroundTruth(
        labels=list(config.classes),
        splits=[([n for n in names if n not in test], [n for n in names if n in test])],
        nframes={name: n for name, n, _ in results},
        resolution={name: (config.height, config.width) for name in names},
        gttubes={name: tubes for name, _, tubes in results},
        frame_dir=FRAME_DIR,
        frame_pattern="{video}/{frame:05d}.jpg",
        fps={name: config.fps for name in names},
    )
