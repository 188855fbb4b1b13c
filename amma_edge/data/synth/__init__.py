"""Synthetic action videos in the UCF101-24 / JHMDB-21 format, so everything runs on a fresh machine.

Articulated people (joint angles and forward kinematics) walk, run, jump, wave, clap, sit down, stand up
(sit_down played backwards) and fall, in untrimmed videos with bystanders, moving distractors, textured
scenes, camera shake, changing light, noise and JPEG. Each video follows from (seed, index) alone:

    spec = make_video_spec(seed, index, width=320, height=240, classes=CLASSES)
    for frame in render_frames(spec): ...      # BGR uint8, no disk
    tubes = spec_tubes(spec)                    # {label index: [N×5 (frame, x1, y1, x2, y2)]}

`write_dataset` (and `amma-edge data synth`) writes the same videos to disk.
"""
from amma_edge.data.synth.actions import CLASSES
from amma_edge.data.synth.generator import (
                                            StreamFrame,
                                            VideoSpec,
                                            make_video_spec,
                                            render_frames,
                                            spec_tubes,
                                            synthetic_stream,
)
from amma_edge.data.synth.writer import SynthConfig, is_synth_output, write_dataset

__all__ = [
                                            "CLASSES",
                                            "StreamFrame",
                                            "SynthConfig",
                                            "VideoSpec",
                                            "is_synth_output",
                                            "make_video_spec",
                                            "render_frames",
                                            "spec_tubes",
                                            "synthetic_stream",
                                            "write_dataset",
]
