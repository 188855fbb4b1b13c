"""The published UCF101-24 / JHMDB-21 ground truth: one Python 2 pickle, as ACT, MOC and AMMA read it.

The pickle is a dict with `labels`, `train_videos` / `test_videos` (one list of videos per split),
`nframes`, `resolution` ((height, width) per video) and `gttubes` ({video: {label index: [N×5 arrays of
(frame, x1, y1, x2, y2)]}}), frames numbered from 1. Frames lie beside it in `rgb-images/{video}/00001.jpg`
(UCF101-24) or `Frames/{video}/00001.png` (JHMDB-21); some copies hold the video files instead.

Unpickling runs whatever callables the file names, so a downloaded pickle could run any code. These files
only ever need numpy's array reconstruction and plain containers, so `SafeUnpickler` admits exactly those
and refuses everything else before it can be called.

Structure that `GroundTruth` cannot hold (a missing key, a tube that is not N×5 numbers) is an error here;
values that are merely wrong (frames beyond nframes, boxes outside the image) are left for
`amma_edge.data.check` to report all at once.
"""
from __future__ import annotations

import importlib
import io
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.frames import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from amma_edge.errors import AmmaEdgeError

UCF_PICKLE = "UCF101v2-GT.pkl"
JHMDB_PICKLE = "JHMDB-GT.pkl"
REQUIRED_KEYS = ("labels", "train_videos", "test_videos", "nframes", "resolution", "gttubes")

# (module, name) as written in the pickle -> (module to import, attribute). numpy 2 renamed numpy.core to
# numpy._core; Python 2 pickles say __builtin__ / copy_reg where Python 3 says builtins / copyreg.
_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_ALLOWED: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    **{(m, "_reconstruct"): (("numpy._core.multiarray", "numpy.core.multiarray"), "_reconstruct") for m in _NUMPY_CORE},
    **{(m, "scalar"): (("numpy._core.multiarray", "numpy.core.multiarray"), "scalar") for m in _NUMPY_CORE},
    **{(m, "_frombuffer"): (("numpy._core.numeric", "numpy.core.numeric"), "_frombuffer")
       for m in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): (("numpy",), "ndarray"),
    ("numpy", "dtype"): (("numpy",), "dtype"),
    # Python 3 writes bytes as _codecs.encode(str, 'latin1') in protocol 0-2 pickles (a re-saved file).
    ("_codecs", "encode"): (("_codecs",), "encode"),
    ("collections", "OrderedDict"): (("collections",), "OrderedDict"),
    **{(b, n): (("builtins",), n) for b in ("__builtin__", "builtins")
       for n in ("set", "frozenset", "list", "dict", "tuple", "bytearray")},
}


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the globals numpy arrays and plain containers need."""

    def __init__(self, file: io.BufferedIOBase, path: str | os.PathLike = "<pickle>"):
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        target = _ALLOWED.get((module, name))
        if target is None:
            raise AmmaEdgeError(
                f"{self.path} is not a plain ground-truth pickle: it asks to load the global {module}.{name}, "
                "which could run code, so it was refused and nothing in the file was executed. Use the "
                "published UCF101v2-GT.pkl / JHMDB-GT.pkl, or a file that holds only dicts, lists and numpy arrays"
            )
        modules, attr = target
        for candidate in modules:
            try:
                return getattr(importlib.import_module(candidate), attr)
            except (ImportError, AttributeError):
                continue
        raise AmmaEdgeError(f"{self.path} needs {module}.{name}, which this numpy does not provide")


def read_pickle(path: str | os.PathLike) -> Any:
    """Unpickle `path` with `SafeUnpickler` (Python 2 strings decoded as latin-1, as the published files need)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(f, path).load()
    except FileNotFoundError as exc:
        raise AmmaEdgeError(f"ground-truth pickle {path} does not exist: check the path") from exc
    except AmmaEdgeError:
        raise
    except Exception as exc:  # truncated or not a pickle at all: pickle raises many kinds
        raise AmmaEdgeError(
            f"{path} cannot be read as a ground-truth pickle ({type(exc).__name__}: {exc}); the file is truncated "
            "or not a pickle: download it again"
        ) from exc


def _text(value: Any, what: str, path: Path) -> str:
    if isinstance(value, bytes):
        return value.decode("latin1")
    if isinstance(value, str):
        return value
    raise AmmaEdgeError(f"{path}: {what} is {type(value).__name__} {value!r}, expected a string")


def _integer(value: Any, what: str, path: Path) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number) or number != int(number):
        raise AmmaEdgeError(f"{path}: {what} is {value!r}, expected a whole number")
    return int(number)


def _video_lists(raw: Any, key: str, path: Path) -> list[list[str]]:
    if not isinstance(raw, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in raw):
        raise AmmaEdgeError(
            f"{path}: '{key}' must be a list holding one list of video names per split, found "
            f"{type(raw).__name__}"
        )
    return [[_text(v, f"a video name in '{key}'", path) for v in split] for split in raw]


def _tube(raw: Any, where: str, path: Path) -> np.ndarray:
    try:
        tube = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise AmmaEdgeError(f"{path}: {where} is not an array of numbers ({exc})") from exc
    if tube.ndim != 2 or tube.shape[1] != 5:
        raise AmmaEdgeError(
            f"{path}: {where} has shape {tube.shape}, expected N×5 rows of (frame, x1, y1, x2, y2)"
        )
    return tube


def ground_truth_from_dict(raw: Any, path: str | os.PathLike) -> GroundTruth:
    """Turn the unpickled dict into a `GroundTruth` (default UCF101-24 frame layout; `load_pickle` fixes it)."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise AmmaEdgeError(f"{path} holds a {type(raw).__name__}, not the ground-truth dict of UCF101-24 / JHMDB-21")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise AmmaEdgeError(
            f"{path} lacks {', '.join(map(repr, missing))} (it has {', '.join(map(repr, sorted(map(str, raw))))}): "
            "it is not a UCF101-24 / JHMDB-21 ground-truth pickle"
        )
    labels = [_text(x, "a label name", path) for x in raw["labels"]]
    train = _video_lists(raw["train_videos"], "train_videos", path)
    test = _video_lists(raw["test_videos"], "test_videos", path)
    if len(train) != len(test):
        raise AmmaEdgeError(
            f"{path}: 'train_videos' has {len(train)} split(s) but 'test_videos' has {len(test)}; they must match"
        )
    for key in ("nframes", "resolution", "gttubes"):
        if not isinstance(raw[key], dict):
            raise AmmaEdgeError(f"{path}: '{key}' must be a dict keyed by video name, found {type(raw[key]).__name__}")
    nframes = {_text(v, "a video name in 'nframes'", path): _integer(n, f"nframes of video {v!r}", path)
               for v, n in raw["nframes"].items()}
    resolution: dict[str, tuple[int, int]] = {}
    for v, r in raw["resolution"].items():
        video = _text(v, "a video name in 'resolution'", path)
        if not isinstance(r, (list, tuple, np.ndarray)) or len(r) != 2:
            raise AmmaEdgeError(f"{path}: resolution of video {video!r} is {r!r}, expected (height, width)")
        resolution[video] = (_integer(r[0], f"height of video {video!r}", path),
                             _integer(r[1], f"width of video {video!r}", path))
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for v, by_label in raw["gttubes"].items():
        video = _text(v, "a video name in 'gttubes'", path)
        if not isinstance(by_label, dict):
            raise AmmaEdgeError(f"{path}: gttubes of video {video!r} must be a dict {{label index: [tubes]}}")
        gttubes[video] = {}
        for label, tubes in by_label.items():
            index = _integer(label, f"a label index of video {video!r}", path)
            if isinstance(tubes, np.ndarray) and tubes.ndim == 2:
                tubes = [tubes]  # one bare tube instead of a list of them
            if not isinstance(tubes, (list, tuple)):
                raise AmmaEdgeError(f"{path}: tubes of label {index} in video {video!r} must be a list of arrays")
            gttubes[video][index] = [
                _tube(t, f"tube {i} of label {index} in video {video!r}", path) for i, t in enumerate(tubes)
            ]
    return GroundTruth(labels=labels, splits=list(zip(train, test)), nframes=nframes, resolution=resolution,
                       gttubes=gttubes)


@dataclass(frozen=True)
class FrameLayout:
    """Where a video's frames are, relative to the dataset root (the `GroundTruth` fields of the same name)."""

    frame_dir: str
    frame_pattern: str


UCF_LAYOUT = FrameLayout("rgb-images", "{video}/{frame:05d}.jpg")
JHMDB_LAYOUT = FrameLayout("Frames", "{video}/{frame:05d}.png")
VIDEO_DIR = "videos"


def default_layout(pickle_name: str) -> FrameLayout:
    """The layout the published file of this name comes with (UCF101-24's for unknown names)."""
    return JHMDB_LAYOUT if Path(pickle_name).name == JHMDB_PICKLE else UCF_LAYOUT


def find_frame_layout(root: str | os.PathLike, videos: Iterable[str], preferred: FrameLayout) -> FrameLayout:
    """The layout the frames at `root` actually use.

    Tries the preferred image folder, then the other published one (taking the image extension from the
    first frame found), then one video file per video under `videos/`. When nothing is on disk the
    preferred layout is kept, so `amma-edge data check` reports what is missing where it is expected.
    """
    root = Path(root)
    sample = list(videos)[:50]
    others = [layout for layout in (UCF_LAYOUT, JHMDB_LAYOUT) if layout != preferred]
    for layout in [preferred, *others]:
        folder = root / layout.frame_dir
        if not folder.is_dir():
            continue
        for video in sample:
            for ext in IMAGE_EXTENSIONS:
                if (folder / video / f"00001{ext}").is_file():
                    return FrameLayout(layout.frame_dir, "{video}/{frame:05d}" + ext)
        return layout
    if (root / VIDEO_DIR).is_dir():
        for video in sample:
            for ext in VIDEO_EXTENSIONS:
                if (root / VIDEO_DIR / f"{video}{ext}").is_file():
                    return FrameLayout(VIDEO_DIR, "{video}" + ext)
    return preferred


def load_pickle(path: str | os.PathLike) -> GroundTruth:
    """Read a UCF101-24 / JHMDB-21 ground-truth pickle safely, with the frame layout found beside it."""
    path = Path(path)
    gt = ground_truth_from_dict(read_pickle(path), path)
    videos = sorted(set(gt.nframes) | {v for tr, te in gt.splits for v in tr + te})
    layout = find_frame_layout(path.parent, videos, default_layout(path.name))
    gt.frame_dir, gt.frame_pattern = layout.frame_dir, layout.frame_pattern
    return gt
