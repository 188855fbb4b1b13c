"""Tiny datasets written in the published UCF101-24 / JHMDB-21 layout, in temporary folders.

The published ground-truth pickles were written by Python 2: strings are raw byte strings (BINSTRING) and
globals carry Python 2 / numpy 1 module names (`__builtin__`, `numpy.core.multiarray`). `Py2Pickler` writes
that dialect from Python 3, so the tests read files shaped like the real ones.
"""
from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

H, W = 24, 32  # resolution (height, width) of every fixture video


class Py2Pickler(pickle._Pickler):
    """Protocol 2 with Python 2 strings and module names, like cPickle.dump under Python 2."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file):
        super().__init__(file, protocol=2)

    def save_py2_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_string
    dispatch[bytes] = save_py2_string

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", None) or "__main__"
        name = name or obj.__qualname__
        module = {"builtins": "__builtin__", "copyreg": "copy_reg"}.get(module, module)
        module = module.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n")
        self.memoize(obj)

    dispatch[type] = save_global


def write_py2_pickle(obj, path: Path) -> Path:
    buf = io.BytesIO()
    Py2Pickler(buf).dump(obj)
    path.write_bytes(buf.getvalue())
    return path


def frame_image(frame: int) -> np.ndarray:
    """A frame whose colour encodes its number, so reading the wrong frame is visible after JPEG coding."""
    return np.full((H, W, 3), (10 * frame) % 250, dtype=np.uint8)


def tube(frames, box=(4, 3, 20, 18)) -> np.ndarray:
    frames = np.asarray(list(frames), dtype=np.float32)
    return np.column_stack([frames, np.tile(np.asarray(box, np.float32), (len(frames), 1))]).astype(np.float32)


UCF_LABELS = ["Basketball", "Biking", "Diving"]
UCF_VIDEOS = {"Basketball/v_Basketball_g01_c01": 8, "Biking/v_Biking_g02_c03": 6, "Diving/v_Diving_g05_c01": 7}


def ucf_raw() -> dict:
    """The published UCF101v2-GT.pkl dict for three tiny videos (one split)."""
    videos = list(UCF_VIDEOS)
    return {
        "labels": list(UCF_LABELS),
        "train_videos": [videos[:2]],
        "test_videos": [videos[2:]],
        "nframes": dict(UCF_VIDEOS),
        "resolution": {v: (H, W) for v in videos},
        "gttubes": {
            videos[0]: {0: [tube(range(1, 9)), tube(range(3, 7), (0, 0, 10, 10))]},
            videos[1]: {1: [tube(range(2, 7))]},
            videos[2]: {2: [tube(range(1, 5))]},
        },
    }


def write_frames(folder: Path, nframes: int, ext: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(1, nframes + 1):
        assert cv2.imwrite(str(folder / f"{f:05d}{ext}"), frame_image(f))


def write_video(path: Path, nframes: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H))
    assert writer.isOpened()
    for f in range(1, nframes + 1):
        writer.write(frame_image(f))
    writer.release()
    return path


def write_ucf(root: Path, raw: dict | None = None, *, frames: str = "images") -> Path:
    """UCF101v2-GT.pkl plus rgb-images/{video}/{frame:05d}.jpg (frames="videos": videos/{video}.avi)."""
    raw = raw if raw is not None else ucf_raw()
    root.mkdir(parents=True, exist_ok=True)
    write_py2_pickle(raw, root / "UCF101v2-GT.pkl")
    for video, n in raw["nframes"].items():
        if frames == "images":
            write_frames(root / "rgb-images" / video, n, ".jpg")
        elif frames == "videos":
            write_video(root / "videos" / f"{video}.avi", n)
    return root


@pytest.fixture
def ucf_root(tmp_path) -> Path:
    return write_ucf(tmp_path / "ucf24")


@pytest.fixture
def jhmdb_root(tmp_path) -> Path:
    """JHMDB-GT.pkl with three splits plus Frames/{video}/{frame:05d}.png."""
    root = tmp_path / "jhmdb"
    videos = ["brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0", "catch/Ball_hochwerfen_catch_f_cm_np1_fr_bad_0",
              "clap/Clapping_clap_u_nm_np1_fr_med_1"]
    raw = {
        "labels": ["brush_hair", "catch", "clap"],
        "train_videos": [videos[:2], videos[1:], [videos[0], videos[2]]],
        "test_videos": [videos[2:], videos[:1], videos[1:2]],
        "nframes": {v: 5 for v in videos},
        "resolution": {v: (H, W) for v in videos},
        "gttubes": {v: {i: [tube(range(1, 6))]} for i, v in enumerate(videos)},
    }
    root.mkdir(parents=True)
    write_py2_pickle(raw, root / "JHMDB-GT.pkl")
    for v in videos:
        write_frames(root / "Frames" / v, 5, ".png")
    return root


@pytest.fixture
def published():
    """This module's writers and constants, so tests use them without importing conftest by name."""
    import types

    return types.SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith("_")})
