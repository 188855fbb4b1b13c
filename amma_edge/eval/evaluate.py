"""Evaluating a detector the way it will run on the device: through the streaming path.

Every test video is read frame by frame, preprocessed by the runtime's preprocessing, and fed clip by clip
to a `TubeletStream` (encoder once per clip, feature cache, head, decode, online linking). Frame-mAP is
computed from the tubelets each step newly covers; video-mAP from the tubes the linker accepts.
A* goes through its own streaming class, `FrameWindowStream` (one pass per key frame, the same linker).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amma_edge.data.annotations import GroundTruth
from amma_edge.data.frames import FrameReader
from amma_edge.data.sampling import stream_clip_frames
from amma_edge.eval.errors import ErrorBreakdownResult, frame_error_breakdown
from amma_edge.eval.frame_map import FrameMapResult, frame_map
from amma_edge.eval.video_map import VideoMapResult, video_map
from amma_edge.models.config import AMMAConfig, AStarConfig
from amma_edge.runtime import native
from amma_edge.runtime.frame_stream import Detect, FrameWindowStream
from amma_edge.runtime.linking import LinkedTube, LinkerConfig, TubeEnded
from amma_edge.runtime.streaming import ClipBuffer, Encode, Head, StreamStep, TubeletStream, clip_ends_for


@dataclass(frozen=True)
class EvaluationResult:
    frame: FrameMapResult
    video: VideoMapResult
    errors: ErrorBreakdownResult
    videos: int
    frames_scored: int
    # The raw material, for plots and further analysis; not part of the JSON summary.
    detections: np.ndarray = field(default_factory=lambda: np.zeros((0, 8)), repr=False, compare=False)
    tubes: dict[str, list[LinkedTube]] = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "frame_map": self.frame.as_dict(),
            "video_map": self.video.as_dict(),
            "error_breakdown": self.errors.as_dict(),
            "videos": self.videos,
            "frames_scored": self.frames_scored,
        }


def evaluate_amma(
    encode: Encode,
    head: Head | Callable[[], Head],
    config: AMMAConfig,
    root: str | Path,
    gt: GroundTruth,
    *,
    split: str = "test",
    split_index: int = 0,
    videos: Sequence[str] | None = None,
    protocol: str = "act",
    linker: LinkerConfig | None = None,
    read_frame: Callable[[str, int], np.ndarray] | None = None,
    on_video: Callable[[int, int, str], None] | None = None,
    on_step: Callable[[str, StreamStep], None] | None = None,
) -> EvaluationResult:
    """Stream every video of the split through `encode` / `head`; `on_video(i, n, name)` reports progress,
    `on_step(name, step)` sees each clip's step (tubelets and their clip ends: what the linker was given)."""
    videos = list(videos) if videos is not None else gt.split_videos(split, split_index)
    reader = read_frame or FrameReader(root, gt)
    detections: list[np.ndarray] = []
    tubes: dict[str, list[LinkedTube]] = {}
    for index, video in enumerate(videos):
        if on_video:
            on_video(index, len(videos), video)
        stream = TubeletStream(encode, head, config, original_size=gt.resolution[video], linker=linker)
        clips = ClipBuffer(config)
        accepted: list[LinkedTube] = []
        fresh = config.new_frames_per_clip
        for clip_index, end in enumerate(clip_ends_for(gt.nframes[video], config.clip_hop), start=1):
            new = stream_clip_frames(clip_index, config.t, config.frame_step, config.hop)[-fresh:]
            step = stream.push_clip(clips.push([reader(video, int(f)) for f in new]))
            if on_step:
                on_step(video, step)
            detections.append(step.frame_detections(index))
            accepted += _accepted(step.events)
        accepted += _accepted(stream.finish())
        tubes[video] = accepted
    return _result(detections, tubes, gt, videos, protocol)


def evaluate_astar(
    detect: Detect,
    config: AStarConfig,
    root: str | Path,
    gt: GroundTruth,
    *,
    split: str = "test",
    split_index: int = 0,
    videos: Sequence[str] | None = None,
    protocol: str = "act",
    linker: LinkerConfig | None = None,
    frame_stride: int = 1,
    read_frame: Callable[[str, int], np.ndarray] | None = None,
    on_video: Callable[[int, int, str], None] | None = None,
) -> EvaluationResult:
    """Stream every video of the split, frame by frame, through `detect` (one window → raw head outputs)."""
    videos = list(videos) if videos is not None else gt.split_videos(split, split_index)
    reader = read_frame or FrameReader(root, gt)
    detections: list[np.ndarray] = []
    tubes: dict[str, list[LinkedTube]] = {}
    for index, video in enumerate(videos):
        if on_video:
            on_video(index, len(videos), video)
        stream = FrameWindowStream(detect, config, original_size=gt.resolution[video], linker=linker,
                                   frame_stride=frame_stride)
        accepted: list[LinkedTube] = []
        for f in range(1, gt.nframes[video] + 1):
            frame = native.preprocess(reader(video, f), mean=config.mean, std=config.std, size=config.input_size)
            step = stream.push_frame(frame)
            detections.append(step.frame_detections(index))
            accepted += _accepted(step.events)
        accepted += _accepted(stream.finish())
        tubes[video] = accepted
    return _result(detections, tubes, gt, videos, protocol)


def _result(detections: list[np.ndarray], tubes: dict[str, list[LinkedTube]], gt: GroundTruth,
            videos: list[str], protocol: str) -> EvaluationResult:
    dets = np.concatenate(detections) if detections else np.zeros((0, 8))
    return EvaluationResult(
        frame=frame_map(dets, gt, videos=videos, protocol=protocol),
        video=video_map(tubes, gt, videos=videos, protocol=protocol),
        errors=frame_error_breakdown(dets, gt, videos=videos),
        videos=len(videos),
        frames_scored=len(np.unique(dets[:, :2], axis=0)) if len(dets) else 0,
        detections=dets,
        tubes=tubes,
    )


def _accepted(events) -> list[LinkedTube]:
    return [e.tube for e in events if isinstance(e, TubeEnded) and e.accepted]
