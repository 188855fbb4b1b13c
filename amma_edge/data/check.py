"""Validating a dataset before training: every problem, each with its video and frame, in one pass.

A broken dataset otherwise shows up one problem at a time, hours into training (a missing frame in
epoch 3) or never (a box off the image silently clipped, a tube past the last frame never sampled).
`check_dataset` looks at the annotations and at the disk and returns all of it at once.

Frames are checked with `os.stat` only (exists, not empty), so a UCF101-24-sized dataset is checked in
seconds; `decode=True` also decodes every frame, which catches truncated images and short video files.
Frames whose size differs from the annotated resolution are not a problem (the datasets scale the boxes),
but the report names those videos.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.frames import ImageSequence, VideoFile, is_video_pattern, open_frames
from amma_edge.errors import AmmaEdgeError

# Problem kinds, stable for --json consumers.
MISSING_VIDEO = "missing_video"
MISSING_FRAME = "missing_frame"
EMPTY_FRAME_FILE = "empty_frame_file"
UNDECODABLE_FRAME = "undecodable_frame"
FRAME_SIZE = "frame_size"
SHORT_VIDEO = "short_video"
NO_NFRAMES = "no_nframes"
NO_RESOLUTION = "no_resolution"
BAD_NFRAMES = "bad_nframes"
BAD_RESOLUTION = "bad_resolution"
SPLIT_OVERLAP = "split_overlap"
UNKNOWN_LABEL = "unknown_label"
BAD_TUBE_SHAPE = "bad_tube_shape"
EMPTY_TUBE = "empty_tube"
BAD_FRAME_NUMBER = "bad_frame_number"
TUBE_BEFORE_START = "tube_before_start"
TUBE_AFTER_END = "tube_after_end"
DUPLICATE_FRAME = "duplicate_frame"
FRAME_ORDER = "frame_order"
BAD_BOX = "bad_box"
BOX_OUTSIDE = "box_outside"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the dataset; `message` names the video and frame and is meant for a human."""

    kind: str
    message: str
    video: str | None = None
    frame: int | None = None


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    videos: int = 0  # videos whose annotations and frames were checked
    tubes: int = 0
    boxes: int = 0
    frames: int = 0  # frame files (or decoded video frames) checked on disk
    decoded: bool = False
    resized_videos: list[str] = field(default_factory=list)  # decoded size differs from the annotated one

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(p.kind for p in self.problems).items()))

    def summary(self) -> str:
        what = (f"checked {self.videos} videos, {self.tubes} tubes ({self.boxes} boxes), {self.frames} frames "
                f"({'decoded' if self.decoded else 'on disk, not decoded'})")
        if self.ok:
            text = f"{what}: no problems found"
        else:
            kinds = ", ".join(f"{n} {k}" for k, n in self.counts().items())
            text = f"{what}: {len(self.problems)} problem{'s' * (len(self.problems) != 1)} ({kinds})"
        if self.resized_videos:
            text += (f"; {len(self.resized_videos)} video(s) have frames at another size than annotated "
                     "(boxes will be scaled)")
        return text

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "videos": self.videos,
            "tubes": self.tubes,
            "boxes": self.boxes,
            "frames": self.frames,
            "decoded": self.decoded,
            "counts": self.counts(),
            "resized_videos": self.resized_videos,
            "problems": [asdict(p) for p in self.problems],
        }


def _check_videos(gt: GroundTruth, report: CheckReport) -> list[str]:
    """Splits, nframes and resolution; returns every video the dataset mentions."""
    problems = report.problems
    in_split: dict[str, list[str]] = {}
    for i, (train, test) in enumerate(gt.splits):
        for part, videos in (("train", train), ("test", test)):
            for video in videos:
                in_split.setdefault(video, []).append(f"{part} of split {i}")
        for video in sorted(set(train) & set(test)):
            problems.append(Problem(SPLIT_OVERLAP, f"video {video!r} is in both train and test of split {i}: "
                                                   "remove it from one of them", video))
    videos = sorted(set(gt.nframes) | set(gt.resolution) | set(gt.gttubes) | set(in_split))
    for video in videos:
        used = (in_split.get(video, []) + (["has tubes"] if video in gt.gttubes else [])) or ["listed"]
        where = ", ".join(dict.fromkeys(used))
        if video not in gt.nframes:
            problems.append(Problem(NO_NFRAMES, f"video {video!r} ({where}) has no frame count in nframes: add it",
                                    video))
        elif gt.nframes[video] < 1:
            problems.append(Problem(BAD_NFRAMES, f"video {video!r} has nframes {gt.nframes[video]}: it must be "
                                                 "at least 1", video))
        if video not in gt.resolution:
            problems.append(Problem(NO_RESOLUTION, f"video {video!r} ({where}) has no (height, width) in "
                                                   "resolution: add it", video))
        elif min(gt.resolution[video]) < 1:
            problems.append(Problem(BAD_RESOLUTION, f"video {video!r} has resolution {gt.resolution[video]}: "
                                                    "height and width must be positive", video))
    return videos


def _row_problems(kind: str, rows: np.ndarray, frames: np.ndarray, video: str, tube: str, text: str,
                  problems: list[Problem]) -> None:
    for r in np.flatnonzero(rows):
        frame = float(frames[r])
        number = int(frame) if np.isfinite(frame) and frame == int(frame) else None
        shown = number if number is not None else frame
        problems.append(Problem(kind, f"video {video!r}, frame {shown}: {tube} {text}", video, number))


def _check_tube(gt: GroundTruth, video: str, label: int, index: int, tube: np.ndarray, report: CheckReport) -> None:
    problems = report.problems
    name = f"'{gt.labels[label]}'" if 0 <= label < len(gt.labels) else "(unknown)"
    what = f"tube {index} of label {label} {name}"
    tube = np.asarray(tube)
    if tube.ndim != 2 or tube.shape[1] != 5:
        problems.append(Problem(BAD_TUBE_SHAPE, f"video {video!r}: {what} has shape {tube.shape}, expected N×5",
                                video))
        return
    if len(tube) == 0:
        problems.append(Problem(EMPTY_TUBE, f"video {video!r}: {what} has no boxes: remove it", video))
        return
    report.boxes += len(tube)
    tube = tube.astype(np.float64)
    frames = tube[:, 0]
    finite = np.isfinite(frames)
    whole = finite & (frames == np.floor(np.where(finite, frames, 0)))
    _row_problems(BAD_FRAME_NUMBER, ~whole, frames, video, what, "has a frame number that is not a whole number",
                  problems)
    _row_problems(TUBE_BEFORE_START, whole & (frames < 1), frames, video, what,
                  "starts before frame 1 (frames are numbered from 1)", problems)
    nframes = gt.nframes.get(video)
    if nframes is not None:
        _row_problems(TUBE_AFTER_END, whole & (frames > nframes), frames, video, what,
                      f"lies beyond the last frame (nframes = {nframes})", problems)
    step = np.diff(frames)
    _row_problems(DUPLICATE_FRAME, np.r_[False, step == 0], frames, video, what, "has this frame twice", problems)
    _row_problems(FRAME_ORDER, np.r_[False, step < 0], frames, video, what,
                  "goes back in time here (frame numbers must increase)", problems)
    x1, y1, x2, y2 = tube[:, 1], tube[:, 2], tube[:, 3], tube[:, 4]
    bad = ~np.isfinite(tube[:, 1:]).all(axis=1)
    bad |= ~bad & ((x2 < x1) | (y2 < y1))
    _row_problems(BAD_BOX, bad, frames, video, what, "has a box that is not finite or has x2 < x1 or y2 < y1",
                  problems)
    size = gt.resolution.get(video)
    if size is not None and min(size) >= 1:
        h, w = size
        outside = ~bad & ((x1 < 0) | (y1 < 0) | (x2 > w) | (y2 > h))
        for r in np.flatnonzero(outside):
            box = ", ".join(f"{v:g}" for v in tube[r, 1:])
            problems.append(Problem(
                BOX_OUTSIDE,
                f"video {video!r}, frame {frames[r]:g}: {what} has box ({box}) outside the {w}×{h} image",
                video, int(frames[r]) if whole[r] else None,
            ))


def _check_tubes(gt: GroundTruth, report: CheckReport) -> None:
    for video in sorted(gt.gttubes):
        for label in sorted(gt.gttubes[video]):
            tubes = gt.gttubes[video][label]
            if not 0 <= label < len(gt.labels):
                report.problems.append(Problem(
                    UNKNOWN_LABEL,
                    f"video {video!r}: label index {label} of {len(tubes)} tube(s) is not one of the "
                    f"{len(gt.labels)} labels (0-{len(gt.labels) - 1})", video,
                ))
            for i, tube in enumerate(tubes):
                report.tubes += 1
                _check_tube(gt, video, label, i, tube, report)


def _check_image_frames(source: ImageSequence, nframes: int, decode: bool, report: CheckReport,
                        annotated: tuple[int, int] | None) -> None:
    video = source.video
    folder = source.path(1).parent
    if not folder.is_dir() and not source.path(nframes).parent.is_dir():
        report.problems.append(Problem(MISSING_VIDEO, f"video {video!r} is not on disk: no frame folder {folder} "
                                                      f"(expected {nframes} frames)", video))
        return
    first_shape = None
    for frame in range(1, nframes + 1):
        path = source.path(frame)
        report.frames += 1
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            report.problems.append(Problem(MISSING_FRAME, f"video {video!r}, frame {frame}: missing frame file {path}",
                                           video, frame))
            continue
        if size == 0:
            report.problems.append(Problem(EMPTY_FRAME_FILE, f"video {video!r}, frame {frame}: frame file {path} is "
                                                             "empty (0 bytes)", video, frame))
            continue
        if decode:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                report.problems.append(Problem(UNDECODABLE_FRAME, f"video {video!r}, frame {frame}: {path} cannot "
                                                                  "be decoded (truncated or not an image)", video,
                                               frame))
                continue
            first_shape = _check_size(video, frame, image.shape[:2], first_shape, annotated, report)


def _check_size(video: str, frame: int, shape: tuple[int, ...], first: tuple[int, ...] | None,
                annotated: tuple[int, int] | None, report: CheckReport) -> tuple[int, ...]:
    if first is None:
        if annotated is not None and tuple(annotated) != tuple(shape):
            report.resized_videos.append(video)
        return shape
    if tuple(shape) != tuple(first):
        report.problems.append(Problem(FRAME_SIZE, f"video {video!r}, frame {frame}: frame is {shape[1]}×{shape[0]} "
                                                   f"but frame 1 is {first[1]}×{first[0]}", video, frame))
    return first


def _check_video_file(source: VideoFile, nframes: int, decode: bool, report: CheckReport,
                      annotated: tuple[int, int] | None) -> None:
    video, path = source.video, source.path
    if not path.is_file():
        report.problems.append(Problem(MISSING_VIDEO, f"video {video!r} is not on disk: no video file {path}", video))
        return
    try:
        claimed = source.frame_count()
        if not decode:
            if 0 < claimed < nframes:
                report.problems.append(Problem(
                    SHORT_VIDEO, f"video {video!r}, frame {claimed + 1}: {path} claims {claimed} frames but nframes "
                                 f"is {nframes} (--decode counts them exactly)", video, claimed + 1))
            return
        first_shape = None
        for frame in range(1, nframes + 1):
            try:
                image = source.read(frame)
            except AmmaEdgeError:
                report.problems.append(Problem(
                    SHORT_VIDEO, f"video {video!r}, frame {frame}: {path} ends after {frame - 1} decodable frames "
                                 f"but nframes is {nframes}", video, frame))
                return
            report.frames += 1
            first_shape = _check_size(video, frame, image.shape[:2], first_shape, annotated, report)
    except AmmaEdgeError as exc:  # cannot open the file at all
        report.problems.append(Problem(UNDECODABLE_FRAME, str(exc), video))
    finally:
        source.close()


def _check_disk(root: Path, gt: GroundTruth, videos: list[str], decode: bool, report: CheckReport) -> None:
    for video in videos:
        source = open_frames(root, gt, video)
        nframes = gt.nframes.get(video)
        if nframes is None or nframes < 1:
            # Without a frame count only the video's presence can be checked.
            present = (source.path.is_file() if isinstance(source, VideoFile) else source.path(1).parent.is_dir())
            if not present:
                where = source.path if isinstance(source, VideoFile) else source.path(1).parent
                report.problems.append(Problem(MISSING_VIDEO, f"video {video!r} is not on disk: no {where}", video))
            continue
        annotated = gt.resolution.get(video)
        if isinstance(source, VideoFile):
            _check_video_file(source, nframes, decode, report, annotated)
        else:
            _check_image_frames(source, nframes, decode, report, annotated)


def check_dataset(root: str | os.PathLike, gt: GroundTruth, *, decode: bool = False) -> CheckReport:
    """Every problem of the dataset at `root`: annotations against themselves and against the frames on disk."""
    report = CheckReport(decoded=decode)
    videos = _check_videos(gt, report)
    report.videos = len(videos)
    _check_tubes(gt, report)
    if videos and not (Path(root) / gt.frame_dir).is_dir():
        kind = "video" if is_video_pattern(gt.frame_pattern) else "frame"
        report.problems.append(Problem(
            MISSING_VIDEO, f"none of the {len(videos)} videos is on disk: the {kind} folder "
                           f"{Path(root) / gt.frame_dir} "
                           f"does not exist. Put the {kind}s there, or point frame_dir at them", None))
        return report
    _check_disk(Path(root), gt, videos, decode, report)
    return report
