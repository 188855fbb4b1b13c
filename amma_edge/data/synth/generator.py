"""One synthetic video from (seed, index): its spec, its frames and its ground-truth tubes, without disk.

Everything random about video `index` is drawn from a generator seeded by (seed, index) alone, so a video
is the same whichever worker renders it, in whatever order, and whether it is written to disk or streamed
to the runtime as a `synthetic://` camera. The dataset writer uses exactly these functions.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from amma_edge.data.synth.actions import CLASSES
from amma_edge.data.synth.layout import (
    MAX_PERFORMER,
    MIN_BYSTANDER,
    Layout,
    make_layout,
)
from amma_edge.data.synth.props import draw_chair, draw_distractor
from amma_edge.data.synth.render import FigureRenderer, draw_shadow
from amma_edge.data.synth.scene import (
    Camera,
    Imaging,
    camera_path,
    jpeg_roundtrip,
    make_plate,
    random_imaging,
    random_perspective,
)
from amma_edge.errors import AmmaEdgeError

MIN_SIZE = (64, 48)  # width, height


@dataclass(frozen=True)
class VideoSpec:
    """Which video to make: enough to re-create it exactly (the rest follows from seed and index)."""

    seed: int
    index: int
    label: str
    classes: tuple[str, ...]
    width: int
    height: int
    fps: float
    nframes: int

    @property
    def name(self) -> str:
        """Video id in the UCF101-24 style, `class/class_00042`: frames live under it."""
        return f"{self.label}/{self.label}_{self.index:05d}"

    @property
    def label_index(self) -> int:
        return self.classes.index(self.label)


def check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    classes = tuple(classes)
    unknown = [c for c in classes if c not in CLASSES]
    if not classes or unknown:
        raise AmmaEdgeError(
            f"unknown synthetic action class(es) {', '.join(map(repr, unknown)) or '(none given)'}: "
            f"choose from {', '.join(CLASSES)}"
        )
    if len(set(classes)) != len(classes):
        raise AmmaEdgeError(f"synthetic classes {', '.join(classes)} name a class twice: list each once")
    return classes


def _streams(seed: int, index: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence([int(seed), int(index)]).spawn(4)


def label_for(seed: int, index: int, classes: Sequence[str]) -> str:
    """Class of video `index`: each run of len(classes) videos holds every class once, in a seeded order."""
    n = len(classes)
    order = np.random.default_rng(np.random.SeedSequence([int(seed), index // n, 0xC1A55])).permutation(n)
    return classes[int(order[index % n])]


def make_video_spec(seed: int, index: int, *, width: int = 320, height: int = 240, fps: float = 25.0,
                    classes: Sequence[str] = CLASSES, min_frames: int = 40, max_frames: int = 90) -> VideoSpec:
    """The spec of video `index` of the synthetic dataset with seed `seed`."""
    classes = check_classes(classes)
    if seed < 0 or index < 0:
        raise AmmaEdgeError(f"seed and video index must be >= 0, got seed={seed}, index={index}")
    if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
        raise AmmaEdgeError(f"synthetic frames of {width}x{height} are too small to draw people in: use at least "
                            f"{MIN_SIZE[0]}x{MIN_SIZE[1]}")
    if not fps > 0:
        raise AmmaEdgeError(f"fps must be positive, got {fps}")
    if not 16 <= min_frames <= max_frames:
        raise AmmaEdgeError(f"video length must satisfy 16 <= min_frames <= max_frames, got {min_frames}..{max_frames}")
    rng = np.random.default_rng(_streams(seed, index)[0])
    nframes = int(rng.integers(min_frames, max_frames + 1))
    return VideoSpec(int(seed), int(index), label_for(seed, index, classes), classes, int(width), int(height),
                     float(fps), nframes)


@dataclass
class Scene:
    """A spec made concrete: background plate, people, props, camera path and camera response."""

    spec: VideoSpec
    plate: np.ndarray
    pad: int
    layout: Layout
    camera: np.ndarray  # (T, 2) integer offsets of the view into the plate
    imaging: Imaging


def build_scene(spec: VideoSpec) -> Scene:
    _, layout_ss, look_ss, imaging_ss = _streams(spec.seed, spec.index)
    layout_rng, look_rng, im_rng = (np.random.default_rng(s) for s in (layout_ss, look_ss, imaging_ss))
    persp = random_perspective(layout_rng, spec.height, MAX_PERFORMER, MIN_BYSTANDER)
    layout = make_layout(layout_rng, spec.label, persp, spec.width, spec.height, spec.nframes, spec.fps)
    pad = max(2, round(0.02 * max(spec.width, spec.height)))
    plate = make_plate(look_rng, spec.width, spec.height, pad, persp)
    camera = camera_path(im_rng, spec.nframes, pad)
    return Scene(spec, plate, pad, layout, camera, random_imaging(im_rng))


def _clean_frames(scene: Scene) -> Iterator[np.ndarray]:
    """Frames before the camera's light, blur and noise: plate, shadows, then objects far to near."""
    spec, pad = scene.spec, scene.pad
    actors = scene.layout.actors
    renderers = [FigureRenderer(a.body, a.appearance, a.geometry) for a in actors]
    items = [(a.ground_y, 1, i) for i, a in enumerate(actors)] + [(d.ground_y, 0, i) for i, d in enumerate(scene.layout.distractors)]
    items.sort()
    for t in range(spec.nframes):
        cx, cy = (int(v) for v in scene.camera[t])
        frame = scene.plate[pad + cy:pad + cy + spec.height, pad + cx:pad + cx + spec.width].copy()
        off = (-float(cx), -float(cy))
        for a in actors:
            x1, _, x2, _ = a.boxes[t]
            lift = float(a.track.lift[t])
            draw_shadow(frame, (0.5 * (x1 + x2) + off[0], a.ground_y + off[1]),
                        (0.45 * (x2 - x1) * (1 - lift), 0.035 * a.body.height), 0.35 * (1 - 2 * lift))
        for _, is_actor, i in items:
            if is_actor:
                a = actors[i]
                if a.chair is not None:
                    draw_chair(frame, a.chair, off)
                renderers[i].draw(frame, t, (a.root[t, 0] + off[0], a.root[t, 1] + off[1]))
            else:
                draw_distractor(frame, scene.layout.distractors[i], t, off, spec.width, spec.height)
        yield frame


def scene_frames(scene: Scene, *, compress: bool = False) -> Iterator[np.ndarray]:
    camera = Camera(scene.imaging, scene.spec.nframes, scene.spec.height, scene.spec.width)
    for t, frame in enumerate(_clean_frames(scene)):
        frame = camera(frame, t)
        yield jpeg_roundtrip(frame, scene.imaging.jpeg_quality) if compress else frame


def render_frames(spec: VideoSpec, *, compress: bool = False) -> Iterator[np.ndarray]:
    """The video's frames, BGR uint8 (H, W, 3), in order.

    With `compress` each frame goes through the video's JPEG quality, giving exactly the pixels a reader
    of the written dataset sees.
    """
    return scene_frames(build_scene(spec), compress=compress)


def scene_tubes(scene: Scene) -> dict[int, list[np.ndarray]]:
    spec = scene.spec
    tubes: list[np.ndarray] = []
    for a in scene.layout.actors:
        if not a.performer:
            continue
        frames = np.flatnonzero(a.track.active)
        boxes = a.boxes[frames] - np.tile(scene.camera[frames], 2)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, spec.width - 1)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, spec.height - 1)
        visible = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        tube = np.concatenate([frames[visible, None] + 1.0, boxes[visible]], axis=1).astype(np.float32)
        if len(tube):
            tubes.append(tube)
    return {spec.label_index: tubes}


def spec_tubes(spec: VideoSpec) -> dict[int, list[np.ndarray]]:
    """Ground-truth tubes {label index: [N×5 (frame, x1, y1, x2, y2)]}, frames from 1, pixels clipped to the image."""
    return scene_tubes(build_scene(spec))


@dataclass(frozen=True)
class StreamFrame:
    """One frame of the endless synthetic camera, with the ground truth visible in it."""

    image: np.ndarray
    video: str
    frame: int  # 1-based within the video
    label: int  # class index into the stream's classes
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2 of the performers acting in this frame


def synthetic_stream(seed: int, *, width: int = 320, height: int = 240, fps: float = 25.0,
                     classes: Sequence[str] = CLASSES, start_index: int = 0, count: int | None = None,
                     compress: bool = False) -> Iterator[StreamFrame]:
    """Videos start_index, start_index + 1, … played back to back (forever if `count` is None)."""
    index = start_index
    while count is None or index < start_index + count:
        scene = build_scene(make_video_spec(seed, index, width=width, height=height, fps=fps, classes=classes))
        tubes = [t for ts in scene_tubes(scene).values() for t in ts]
        for t, image in enumerate(scene_frames(scene, compress=compress)):
            rows = [tube[tube[:, 0] == t + 1, 1:] for tube in tubes]
            boxes = np.concatenate(rows, 0) if rows else np.zeros((0, 4), np.float32)
            yield StreamFrame(image, scene.spec.name, t + 1, scene.spec.label_index, boxes)
        index += 1
