"""Where everyone is: ground contact, placement of performers and bystanders, chairs and distractors.

Two rules keep the motion physical. Vertically, the lowest drawn point of a person rests on their floor
line (plus `lift` in the air), so knees bending lower the hips and a fallen person lies on the floor.
Horizontally, whichever point the action plants stays put: the stance foot while walking or running (so
the body moves forward exactly as far as the legs push it, with no skating), both feet while sitting down
or toppling over, and the pelvis in flight.

Placement keeps every performer inside the frame for the whole video and keeps bystanders from hiding
most of a performer, so every annotated box shows a person doing the action.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from amma_edge.data.synth.actions import (
    ANCHOR_FEET,
    ANCHOR_PELVIS,
    ANCHOR_STANCE,
    VIEW,
    Motion,
    Track,
    action_track,
    duration_range,
    random_motion,
    standing,
)
from amma_edge.data.synth.props import Chair, Distractor, chair_for, random_distractor
from amma_edge.data.synth.render import Appearance, random_appearance
from amma_edge.data.synth.scene import Perspective
from amma_edge.data.synth.skeleton import (
    BodyParams,
    C,
    FigureGeometry,
    P,
    forward_kinematics,
    random_body,
)

MIN_PERFORMER, MAX_PERFORMER = 0.32, 0.6  # performer height as a fraction of the frame height
MIN_BYSTANDER = 0.25


@dataclass
class Actor:
    """One person in one video: who they are, how they move and where they are at every frame."""

    body: BodyParams
    appearance: Appearance
    motion: Motion
    yaw: float
    label: str | None  # the action performed; None for a bystander
    track: Track
    geometry: FigureGeometry
    root: np.ndarray  # (T, 2) pelvis position in world pixels
    ground_y: float
    chair: Chair | None = None

    @cached_property
    def boxes(self) -> np.ndarray:
        """(T, 4) tight world-pixel boxes around everything drawn of this person."""
        return self.geometry.extents() + np.tile(self.root, 2)

    @property
    def performer(self) -> bool:
        return self.label is not None


@dataclass
class Layout:
    perspective: Perspective
    actors: list[Actor] = field(default_factory=list)
    distractors: list[Distractor] = field(default_factory=list)


def solve_root(body: BodyParams, yaw: float, track: Track, geometry: FigureGeometry, ground_y: float,
               x0: float = 0.0) -> np.ndarray:
    """(T, 2) pelvis positions that keep the body on the floor and the planted point fixed."""
    ext = geometry.extents()
    h = body.height
    y = ground_y - ext[:, 3] - track.lift * h
    if track.ballistic.any():
        stand = forward_kinematics(body, standing()[None], yaw).extents()[0, 3]
        y = np.where(track.ballistic, ground_y - stand - track.lift * h, y)
    feet = np.stack([geometry.caps_b[:, C["l_shin"], 0], geometry.caps_b[:, C["r_shin"], 0]], 1)
    soles = np.stack([
        np.maximum(geometry.caps_a[:, C["l_foot"], 1], geometry.caps_b[:, C["l_foot"], 1]),
        np.maximum(geometry.caps_a[:, C["r_foot"], 1], geometry.caps_b[:, C["r_foot"], 1]),
    ], 1)
    stance = np.argmax(soles, axis=1)
    T = len(y)
    rows = np.arange(1, T)
    d_stance = -(feet[rows, stance[1:]] - feet[rows - 1, stance[1:]])
    d_feet = -(feet[1:].mean(1) - feet[:-1].mean(1))
    d_pelvis = track.drift[1:] * h * geometry.forward[1:, 0]
    anchor = track.anchor[1:]
    dx = np.select([anchor == ANCHOR_STANCE, anchor == ANCHOR_FEET, anchor == ANCHOR_PELVIS],
                   [d_stance, d_feet, d_pelvis], 0.0)
    x = x0 + np.concatenate([[0.0], np.cumsum(dx)])
    return np.stack([x, y], 1)


def _yaw_for(rng: np.random.Generator, view: str) -> float:
    if view == "any":
        view = "front" if rng.uniform() < 0.35 else "side"
    if view == "front":
        return float(-np.pi / 2 + rng.uniform(-0.55, 0.55))
    if view == "side":
        return float(rng.choice([0.0, np.pi]) + rng.uniform(-0.3, 0.3))
    return float(rng.uniform(-np.pi, np.pi))


def _coverage(front: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Fraction of each `back` box (N, 4) hidden behind the `front` box (N, 4)."""
    iw = np.clip(np.minimum(front[:, 2], back[:, 2]) - np.maximum(front[:, 0], back[:, 0]), 0, None)
    ih = np.clip(np.minimum(front[:, 3], back[:, 3]) - np.maximum(front[:, 1], back[:, 1]), 0, None)
    area = np.clip((back[:, 2] - back[:, 0]) * (back[:, 3] - back[:, 1]), 1e-6, None)
    return iw * ih / area


def _seat(rng: np.random.Generator, actor: Actor) -> Chair | None:
    """A chair under the actor wherever their track has them seated."""
    q = actor.track.poses
    seated = np.flatnonzero(0.5 * (q[:, P["l_hip_flex"]] + q[:, P["r_hip_flex"]]) > 1.45)
    if not len(seated):
        return None
    t = int(seated[0])
    facing = 1 if actor.geometry.forward[t, 0] >= 0 else -1
    return chair_for(rng, tuple(actor.root[t]), actor.body.thigh, actor.body.r_thigh, actor.body.height,
                     actor.ground_y, facing)


def _make_actor(rng: np.random.Generator, label: str | None, height_px: float, persp: Perspective, width: int,
                nframes: int, fps: float, posture: str, max_duration: float) -> Actor | None:
    """An actor at a random depth and position; None if its path cannot fit the frame."""
    body = random_body(rng, height_px)
    appearance = random_appearance(rng)
    motion = random_motion(rng, posture)
    yaw = _yaw_for(rng, VIEW[label] if label else "free")
    ground = persp.ground_for(height_px)
    if label is None:
        track = action_track(None, motion, nframes, fps=fps)
    else:
        untrimmed = rng.uniform() < 0.85  # idle before and after the action, as in UCF101-24
        room = max(nframes - 8 if untrimmed else nframes, min(16, nframes))
        if label == "jump" and duration_range(label, motion, fps)[0] > room:
            motion = replace(motion, variant=motion.variant & ~1)  # one jump where two do not fit
        lo, hi = duration_range(label, motion, fps)
        hi = max(lo, int(hi * max_duration))
        duration = int(rng.integers(min(lo, room), min(hi, room) + 1))
        slack = nframes - duration
        start = int(rng.integers(4, slack - 3)) if untrimmed and slack >= 8 else int(rng.integers(0, slack + 1))
        track = action_track(label, motion, nframes, start, duration, fps)
    geometry = forward_kinematics(body, track.poses, yaw)
    root = solve_root(body, yaw, track, geometry, ground)
    ext = geometry.extents() + np.tile(root, 2)
    margin = 0.02 * width
    lo_x, hi_x = margin - ext[:, 0].min(), width - margin - ext[:, 2].max()
    if hi_x < lo_x:
        return None
    root = root + np.array([rng.uniform(lo_x, hi_x), 0.0])
    return Actor(body, appearance, motion, yaw, label, track, geometry, root, ground)


def _place_performer(rng: np.random.Generator, label: str, persp: Perspective, width: int, height: int,
                     nframes: int, fps: float, others: list[Actor]) -> Actor | None:
    for attempt in range(10):
        shrink = 0.85 ** attempt  # long walks and runs need room: shorter and smaller on every retry
        frac = rng.uniform(MIN_PERFORMER, MIN_PERFORMER + (MAX_PERFORMER - MIN_PERFORMER) * shrink)
        actor = _make_actor(rng, label, frac * height, persp, width, nframes, fps, "stand", shrink)
        if actor is None:
            continue
        act = actor.track.active
        if any(_overlaps(actor, o, act) for o in others):
            continue
        return actor
    return None


def _overlaps(a: Actor, b: Actor, frames: np.ndarray) -> bool:
    """Whether either of two performers hides more than a fifth of the other during `frames`."""
    frames = frames | b.track.active
    return bool(max(_coverage(a.boxes[frames], b.boxes[frames]).max(), _coverage(b.boxes[frames], a.boxes[frames]).max()) > 0.2)


def _place_bystander(rng: np.random.Generator, persp: Perspective, width: int, height: int, nframes: int,
                     fps: float, performers: list[Actor]) -> Actor | None:
    posture = str(rng.choice(["stand", "akimbo", "seated"], p=[0.6, 0.25, 0.15]))
    for _ in range(8):
        frac = rng.uniform(MIN_BYSTANDER, MAX_PERFORMER)
        actor = _make_actor(rng, None, frac * height, persp, width, nframes, fps, posture, 1.0)
        if actor is None:
            continue
        ok = True
        for p in performers:
            act = p.track.active
            if actor.ground_y >= p.ground_y:  # in front: may hide part of the performer, never most of it
                cov = _coverage(actor.boxes[act], p.boxes[act])
                moving = p.label in ("walk", "run")
                ok &= bool(cov.max() <= (0.6 if moving else 0.3) and cov.mean() <= 0.2)
            else:  # behind: must not stand inside the performer's box, where its boxes would be ambiguous
                cov = _coverage(p.boxes[act], actor.boxes[act])
                ok &= bool(cov.mean() <= 0.3 and cov.max() <= 0.7)
        if ok:
            return actor
    return None


def make_layout(rng: np.random.Generator, label: str, persp: Perspective, width: int, height: int, nframes: int,
                fps: float) -> Layout:
    """One performer of `label` (sometimes two), up to two bystanders, and up to three distractors."""
    layout = Layout(persp)
    n_perf = 2 if rng.uniform() < 0.2 else 1
    for _ in range(n_perf):
        actor = _place_performer(rng, label, persp, width, height, nframes, fps, layout.actors)
        if actor is not None:
            layout.actors.append(actor)
    if not layout.actors:  # cannot happen for sane sizes; make it loud rather than an empty video
        raise RuntimeError(f"could not place a {label!r} performer in a {width}x{height} frame")
    performers = list(layout.actors)
    n_by = int(rng.choice([0, 1, 2], p=[0.35, 0.4, 0.25]))
    for _ in range(min(n_by, 3 - len(performers))):
        actor = _place_bystander(rng, persp, width, height, nframes, fps, performers)
        if actor is not None:
            layout.actors.append(actor)
    for actor in layout.actors:
        actor.chair = _seat(rng, actor)
    n_dis = int(rng.choice([0, 1, 2, 3], p=[0.2, 0.4, 0.3, 0.1]))
    for _ in range(n_dis):
        ground = rng.uniform(persp.floor_y + 2, height * 0.98)
        layout.distractors.append(random_distractor(rng, width, height, ground, persp.person_height(ground)))
    return layout
